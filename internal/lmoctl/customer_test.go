package lmoctl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lmo-operator/lmo-operator/internal/salesforce"
)

// A License is named after its customer: a DNS label from the name, then a short case-safe suffix of
// the subscriber org id, so that two customers of one name stay apart and the name does not change
// from one import to the next; without a usable customer name, the org id as before.
func TestImportedNames(t *testing.T) {
	l := salesforce.License{ID: "a0N000000000001AAA", SubscriberOrgID: "00D5g000004XyZ1AAA"}
	other := salesforce.License{ID: "a0N000000000002AAA", SubscriberOrgID: "00D5g000004xyz1AAA"} // differs only in case
	for _, tc := range []struct {
		name, prefix, customer string
		l                      salesforce.License
		pinned                 bool
		want                   string
	}{
		{"an account name", "", "Globex Corporation", l, false, "globex-corporation-4xyz1eak"},
		{"an org id that differs only in case gets another suffix", "", "Globex Corporation", other, false, "globex-corporation-4xyz1eaa"},
		{"accented letters are spelled plainly", "", "Müller & Söhne GmbH", l, false, "muller-sohne-gmbh-4xyz1eak"},
		{"no customer falls back to the org id", "", "", l, false, "00d5g000004xyz1eak"},
		{"a name without a letter a DNS name holds falls back to the org id", "", "株式会社", l, false, "00d5g000004xyz1eak"},
		{"a prefix comes first", "acme-", "Initech", l, false, "acme-initech-4xyz1eak"},
		{"a pinned record appends the license id", "", "Tyrell Corporation", l, true, "tyrell-corporation-4xyz1eak-a0n000000000001eaa"},
		{"a long name is cut to fit 63 characters", "", strings.Repeat("Very Long Company Name ", 10), l, true,
			"very-long-company-name-very-long-co-4xyz1eak-a0n000000000001eaa"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := importedName(tc.prefix, tc.customer, tc.l, tc.pinned)
			if got != tc.want {
				t.Errorf("importedName = %q, want %q", got, tc.want)
			}
			if len(got) > 63 || dnsName(got) != got {
				t.Errorf("%q is not a DNS label of at most 63 characters", got)
			}
		})
	}
}

// No output of import, plan or report carries a person from a lead (name or email): the customer is
// a company, and the seed's leads carry people to prove it.
func TestNoPersonalDataOfCustomersInOutputs(t *testing.T) {
	s := startSim(t, func() time.Time { return today })
	out := filepath.Join(t.TempDir(), "acme")
	var all strings.Builder
	for _, args := range [][]string{
		{"import", "--package", "033000000000001AAA", "--out", out, "--lmo-ref", "acme-lmo"},
		{"import", "--package", "033000000000002AAA", "--lmo-ref", "acme-lmo"},
		{"plan", "-f", planDir(t), "-o", "json"},
		{"plan", "-f", planDir(t), "-o", "markdown"},
		{"report", "-o", "json"},
	} {
		r := s.run(t, args...)
		all.WriteString(r.stdout + r.stderr)
	}
	err := filepath.Walk(out, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		all.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, person := range []string{"Gibbons", "Wesker", "Osborn", "Jana", "@initech.example", "@umbrella.example", "@mueller.example"} {
		if strings.Contains(all.String(), person) {
			t.Errorf("an output names a lead's person: %q", person)
		}
	}
	for _, company := range []string{"Globex Corporation", "Initech", "Umbrella Corp.", "Müller & Söhne GmbH"} {
		if !strings.Contains(all.String(), company) {
			t.Errorf("no output names the customer %q", company)
		}
	}
}

// A license whose subscriber org is deleted gets no License: the operator would only ever report it
// as SubscriberOrgDeleted, and a bootstrapped repository should apply with every License Ready.
// stderr names what was left out.
func TestImportLeavesOutLicensesWhoseOrgIsGone(t *testing.T) {
	s := startSimSeed(t, func(seed string) string {
		return strings.Replace(seed, "account: Umbrella Corp.,", "account: Umbrella Corp., orgStatus: DELETED,", 1)
	})
	r := s.run(t, "import", "--package", "033000000000001AAA", "--lmo-ref", "acme-lmo")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout, "a0N000000000003AAA") || strings.Contains(r.stdout, "umbrella") {
		t.Errorf("the output has a License for the deleted org's license:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "a0N000000000003AAA") || !strings.Contains(r.stderr, "Umbrella Corp.") || !strings.Contains(r.stderr, "DELETED") {
		t.Errorf("stderr %q does not name the license left out, its customer and the org status", r.stderr)
	}
	if !strings.Contains(r.stdout, "initech-4abc2eak") {
		t.Errorf("the other Licenses are missing:\n%s", r.stdout)
	}
}
