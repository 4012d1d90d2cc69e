package lmoctl

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lmo-operator/lmo-operator/internal/drift"
	"github.com/lmo-operator/lmo-operator/internal/licterms"
	"github.com/lmo-operator/lmo-operator/internal/lmosim"
)

// seedLicenseIDs are the license records of testdata/seed.yaml.
func seedLicenseIDs() []string {
	var ids []string
	for i := 1; i <= 12; i++ {
		ids = append(ids, fmt.Sprintf("a0N%012dAAA", i))
	}
	return ids
}

// simTerms reads a record through lmosim's admin view, independently of lmoctl's own reading.
func simTerms(l lmosim.License) drift.Terms {
	seats := int64(l.Seats)
	t := drift.Terms{Status: l.Status, Seats: &seats, Expiration: drift.Never, Params: map[string]string{}}
	if l.Expiration != nil && *l.Expiration != "" && *l.Expiration != "1970-01-01" {
		t.Expiration = *l.Expiration
	}
	for name, v := range l.FeatureParameters {
		switch x := v.(type) {
		case bool:
			t.Params[name] = strconv.FormatBool(x)
		case float64:
			t.Params[name] = strconv.FormatInt(int64(x), 10)
		case string:
			t.Params[name] = x
		}
	}
	return t
}

func TestImportWritesObserveLicensesWithZeroDriftAndPlanFindsNoChange(t *testing.T) {
	s := startSim(t, func() time.Time { return today })
	out := filepath.Join(t.TempDir(), "acme")
	r := s.run(t, "import", "--package", "033000000000001AAA", "--out", out, "--lmo-ref", "acme-lmo", "--namespace", "licensing")
	if r.code != ExitOK {
		t.Fatalf("import exited %d: %s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, testSecret) {
		t.Error("import printed the client secret")
	}

	m, err := readManifests(out)
	if err != nil {
		t.Fatalf("the import output does not read back: %v", err)
	}
	mp, ok := m.packages["licensing/acme-projects"]
	if !ok || mp.Spec.PackageID != "033000000000001AAA" || mp.Spec.LMORef.Name != "acme-lmo" {
		t.Fatalf("ManagedPackage: got %+v", m.packages)
	}

	// Every record that is not Uninstalled has exactly one License, and its spec has no drift.
	byRecord := map[string]fileLicense{}
	for _, l := range m.licenses {
		if l.Spec.ManagementPolicy != "Observe" || l.Namespace != "licensing" {
			t.Errorf("License %s: policy %q namespace %q, want Observe in licensing", l.Name, l.Spec.ManagementPolicy, l.Namespace)
		}
		rec := l.Spec.LicenseID
		if rec == "" {
			for _, id := range seedLicenseIDs() {
				if v, _ := s.GetLicense(id); v.PackageID == "033000000000001AAA" && v.SubscriberOrgID == l.Spec.SubscriberOrgID && v.Status != "Uninstalled" {
					rec = id
				}
			}
		}
		if _, dup := byRecord[rec]; dup || rec == "" {
			t.Errorf("License %s resolves to record %q, which is missing or taken", l.Name, rec)
		}
		byRecord[rec] = l
	}
	var want []string
	for _, id := range seedLicenseIDs() {
		v, _ := s.GetLicense(id)
		if v.PackageID != "033000000000001AAA" || v.Status == "Uninstalled" {
			continue
		}
		want = append(want, id)
		l, ok := byRecord[id]
		if !ok {
			t.Errorf("record %s (%s) has no License", id, v.Status)
			continue
		}
		if d := drift.Diff(licterms.Desired(l.Spec), simTerms(v)); len(d) != 0 {
			t.Errorf("License %s drifts from record %s: %+v", l.Name, id, d)
		}
		if !licterms.HasManagedFields(licterms.Desired(l.Spec)) || l.Spec.Status == "" || l.Spec.Seats == nil || l.Spec.Expiration == "" {
			t.Errorf("License %s does not manage status, seats and expiration: %+v", l.Name, l.Spec)
		}
	}
	if len(m.licenses) != len(want) {
		t.Errorf("got %d Licenses, want one per live record (%d)", len(m.licenses), len(want))
	}

	// Each License records its customer (the account, else the lead's company), or none.
	for id, want := range map[string]string{"a0N000000000001AAA": "Globex Corporation", "a0N000000000002AAA": "Initech",
		"a0N000000000003AAA": "Umbrella Corp.", "a0N000000000006AAA": "", "a0N000000000008AAA": "Tyrell Corporation"} {
		if got := byRecord[id].Annotations["licensing.lmo-operator.dev/customer"]; got != want {
			t.Errorf("record %s: customer annotation %q, want %q", id, got, want)
		}
	}

	// The ambiguous subscriber's two live licenses are pinned by licenseID.
	for _, id := range []string{"a0N000000000008AAA", "a0N000000000009AAA"} {
		if l := byRecord[id]; l.Spec.LicenseID != id || l.Spec.SubscriberOrgID != "" {
			t.Errorf("record %s of an org with two live licenses: got spec %+v, want licenseID pinned", id, l.Spec)
		}
	}

	// One generated License, the ManagedPackage and the kustomization, byte for byte.
	// Files and Licenses are named after the customer, with the customer recorded in an annotation;
	// a license without a customer keeps the org id.
	for _, name := range []string{"managedpackage.yaml", "kustomization.yaml", "licenses/globex-corporation-4xyz1eak.yaml", "licenses/00d5g000004lm3qeac.yaml"} {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "import-"+strings.ReplaceAll(strings.TrimSuffix(name, ".yaml"), "/", "-"), string(b))
	}

	// plan on the import output: nothing to change, exit 0, no write, two read calls.
	s.resetStats(t)
	p := s.run(t, "plan", "-f", out)
	if p.code != ExitOK {
		t.Fatalf("plan on the import output exited %d:\n%s%s", p.code, p.stdout, p.stderr)
	}
	if want := fmt.Sprintf("No changes: %d Licenses match the LMO.\n", len(want)); p.stdout != want {
		t.Errorf("plan output %q, want %q", p.stdout, want)
	}
	calls := s.assertNoWrites(t)
	if calls["composite"] != 2 || calls["query"] != 0 || calls["queryMore"] != 0 {
		t.Errorf("plan made %v, want two Composite calls", calls)
	}
}

func TestImportWithoutOutStreamsYAMLToStdout(t *testing.T) {
	s := startSim(t, func() time.Time { return today })
	r := s.run(t, "import", "--package", "033000000000002", "--lmo-ref", "acme-lmo", "--package-name", "billing")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	dir := writeFiles(t, map[string]string{"all.yaml": r.stdout})
	m, err := readManifests(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range m.licenses {
		names = append(names, l.Name+"="+l.Spec.Seats.String()+"/"+l.Spec.Expiration)
	}
	sort.Strings(names)
	if diff := cmp.Diff([]string{"globex-corporation-4xyz1eak=SiteLicense/Never", "muller-sohne-gmbh-4pq7ueac=15/2026-12-03"}, names); diff != "" {
		t.Errorf("Licenses (-want +got):\n%s", diff)
	}
	if _, ok := m.packages["/billing"]; !ok {
		t.Errorf("no ManagedPackage billing in %v", m.packages)
	}
	if !strings.Contains(r.stderr, "Imported 2 Licenses") {
		t.Errorf("stderr %q lacks the summary", r.stderr)
	}
	s.assertNoWrites(t)
}
