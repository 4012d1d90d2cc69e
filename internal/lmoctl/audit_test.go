package lmoctl

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lmo-operator/lmo-operator/internal/lmosim"
	"github.com/lmo-operator/lmo-operator/internal/salesforce"
	"github.com/lmo-operator/lmo-operator/internal/testenv/testclock"
)

// auditSim builds a history around a 30-day window that starts 2026-10-26T12:00:00Z: the seed at
// 2026-10-01, a person's seat edit before the window, then in it the operator's seat write for
// Globex, a person's expiration edit on Initech and the operator putting it back, an uninstall, an
// upgrade, the operator's write of a feature parameter value, a person converting Soylent's trial,
// and a new install.
func auditSim(t *testing.T) *sim {
	t.Helper()
	clk := testclock.New(time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC))
	s := startSim(t, clk.Now)
	ctx := context.Background()
	connect := func(id, secret string) *salesforce.Client {
		c, err := salesforce.New(ctx, salesforce.Config{InstanceURL: s.url,
			ClientCredentials: &salesforce.ClientCredentials{ClientID: id, ClientSecret: secret}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	operator, person := connect("lmo-operator", testSecret), connect("lmo-admin", "admin-secret-value")
	patch := func(at time.Time, c *salesforce.Client, object, id string, fields map[string]any) {
		t.Helper()
		clk.Set(at)
		if err := c.PatchRecord(ctx, object, id, fields, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	patch(time.Date(2026, 10, 20, 9, 0, 0, 0, time.UTC), person, salesforce.LicenseObject, "a0N000000000003AAA", map[string]any{salesforce.FieldSeats: 25})
	patch(time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC), operator, salesforce.LicenseObject, "a0N000000000001AAA", map[string]any{salesforce.FieldSeats: 60})
	patch(time.Date(2026, 11, 5, 9, 30, 0, 0, time.UTC), person, salesforce.LicenseObject, "a0N000000000002AAA", map[string]any{salesforce.FieldExpiration: "2028-01-31"})
	patch(time.Date(2026, 11, 5, 9, 31, 0, 0, time.UTC), operator, salesforce.LicenseObject, "a0N000000000002AAA", map[string]any{salesforce.FieldExpiration: "2027-12-31"})
	clk.Set(time.Date(2026, 11, 10, 10, 0, 0, 0, time.UTC))
	if _, err := s.Uninstall("a0N000000000006AAA"); err != nil {
		t.Fatal(err)
	}
	clk.Set(time.Date(2026, 11, 12, 11, 0, 0, 0, time.UTC))
	if _, err := s.Upgrade("a0N000000000001AAA", "1.5.0"); err != nil {
		t.Fatal(err)
	}
	globex, ok := s.GetLicense("a0N000000000001AAA")
	if !ok {
		t.Fatal("no license a0N000000000001AAA")
	}
	patch(time.Date(2026, 11, 15, 14, 0, 0, 0, time.UTC), operator, salesforce.FeatureParameterInteger,
		globex.FeatureParameterRecords["acme__MaxProjects"], map[string]any{salesforce.FieldFeatureParameterValue: 30})
	patch(time.Date(2026, 11, 18, 16, 45, 0, 0, time.UTC), person, salesforce.LicenseObject, "a0N000000000005AAA", map[string]any{salesforce.FieldStatus: "Active"})
	clk.Set(time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC))
	if _, err := s.Install(lmosim.InstallRequest{PackageID: "033000000000002AAA", SubscriberOrgID: "00D5g000004Zz9ZAAA", Company: "Hooli"}); err != nil {
		t.Fatal(err)
	}
	clk.Set(today)
	s.resetStats(t)
	return s
}

// auditGitops is a directory of Licenses for Globex and Initech in namespace licensing.
func auditGitops(t *testing.T) string {
	t.Helper()
	return writeFiles(t, map[string]string{
		"package.yaml": `apiVersion: licensing.lmo-operator.dev/v1alpha1
kind: ManagedPackage
metadata: {name: acme-projects, namespace: licensing}
spec: {lmoRef: {name: acme-lmo}, packageID: 033000000000001AAA}
`,
		"licenses.yaml": `apiVersion: licensing.lmo-operator.dev/v1alpha1
kind: License
metadata: {name: globex-projects, namespace: licensing}
spec: {packageRef: {name: acme-projects}, subscriberOrgID: 00D5g000004XyZ1AAA, seats: 60}
---
apiVersion: licensing.lmo-operator.dev/v1alpha1
kind: License
metadata: {name: initech-projects, namespace: licensing}
spec: {packageRef: {name: acme-projects}, subscriberOrgID: 00D5g000004AbC2, expiration: "2027-12-31"}
`,
	})
}

func decodeAudit(t *testing.T, r result) Audit {
	t.Helper()
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var a Audit
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		t.Fatal(err)
	}
	return a
}

// brief is what the JSON assertions compare of a change.
type brief struct {
	At, Class, Event, By, Username, Record, Field, Old, New, Source, License string
}

func briefs(a Audit) []brief {
	out := make([]brief, len(a.Changes))
	for i, c := range a.Changes {
		out[i] = brief{c.At.Format(time.RFC3339), c.Class, c.Event, c.By, c.ByUsername, c.LicenseID, c.Field, c.Old, c.New, c.Source, c.License}
	}
	return out
}

func TestAuditClassifiesEveryChangeInTheWindow(t *testing.T) {
	s := auditSim(t)
	a := decodeAudit(t, s.run(t, "audit", "--since", "30d", "-f", auditGitops(t), "-o", "json"))
	const (
		op     = "Integration User"
		opUser = "integration@acme.example"
		dana   = "Dana Admin"
		danaU  = "dana.admin@acme.example"
		lm     = "License Manager"
		lmU    = "license.manager@lmosim.invalid"
	)
	want := []brief{
		{"2026-11-01T10:00:00Z", ClassOperator, EventUpdate, op, opUser, "a0N000000000001AAA", salesforce.FieldSeats, "50", "60", SourceHistory, "licensing/globex-projects"},
		{"2026-11-05T09:30:00Z", ClassPerson, EventUpdate, dana, danaU, "a0N000000000002AAA", salesforce.FieldExpiration, "2027-12-31", "2028-01-31", SourceHistory, "licensing/initech-projects"},
		{"2026-11-05T09:31:00Z", ClassOperator, EventUpdate, op, opUser, "a0N000000000002AAA", salesforce.FieldExpiration, "2028-01-31", "2027-12-31", SourceHistory, "licensing/initech-projects"},
		{"2026-11-10T10:00:00Z", ClassSalesforce, EventUninstall, lm, lmU, "a0N000000000006AAA", salesforce.FieldStatus, "Suspended", "Uninstalled", SourceHistory, ""},
		{"2026-11-12T11:00:00Z", ClassSalesforce, EventUpgrade, lm, lmU, "a0N000000000001AAA", fieldVersionNumber, "1.4.0", "1.5.0", SourceHistory, "licensing/globex-projects"},
		{"2026-11-15T14:00:00Z", ClassOperator, EventUpdate, op, opUser, "a0N000000000001AAA", "acme__MaxProjects", "", "30", SourceLastModified, "licensing/globex-projects"},
		{"2026-11-18T16:45:00Z", ClassPerson, EventUpdate, dana, danaU, "a0N000000000005AAA", salesforce.FieldStatus, "Trial", "Active", SourceHistory, ""},
	}
	got := briefs(a)
	if len(got) != len(want)+1 {
		t.Fatalf("got %d changes, want %d (the install last):\n%s", len(got), len(want)+1, cmp.Diff(want, got))
	}
	if diff := cmp.Diff(want, got[:len(want)]); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	install := a.Changes[len(want)]
	if install.Class != ClassSalesforce || install.Event != EventInstall || install.Field != fieldCreated || install.Old != "" || install.New != "" ||
		install.Customer != "Hooli" || install.PackageID != "033000000000002AAA" || install.At != time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC) {
		t.Errorf("the install is %+v", install)
	}
	if a.Changes[0].Customer != "Globex Corporation" || a.Changes[0].Record == "" || a.Changes[0].SubscriberOrgID != "00D5g000004XyZ1AAA" {
		t.Errorf("the first change does not name its customer and record: %+v", a.Changes[0])
	}
	if diff := cmp.Diff(AuditSummary{Changes: 8, Operator: 3, Person: 2, Salesforce: 3}, a.Summary); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{opUser}, a.OperatorUsers); diff != "" {
		t.Errorf("operator users default to the user lmoctl authenticates as (-want +got):\n%s", diff)
	}
	if !a.WindowStart.Equal(today.Add(-30*24*time.Hour)) || a.Since != "30d" {
		t.Errorf("window %s since %s", a.WindowStart, a.Since)
	}
	if len(a.Notes) != 1 || !strings.Contains(a.Notes[0], "no field history") {
		t.Errorf("notes %q do not say values have no history", a.Notes)
	}
	// Nobody's personal data: the leads' people never appear.
	out := s.run(t, "audit", "-o", "json").stdout
	for _, p := range []string{"Peter Gibbons", "initech.example", "Norman", "Wesker"} {
		if strings.Contains(out, p) {
			t.Errorf("the audit names %q, a customer's person", p)
		}
	}
	calls := s.assertNoWrites(t)
	if calls["composite"] != 2*3 || calls["token"] != 2 {
		t.Errorf("two audits made %d Composite and %d token calls, want 6 and 2", calls["composite"], calls["token"])
	}
}

func TestAuditOperatorUserFlagDecidesWhoIsTheOperator(t *testing.T) {
	s := auditSim(t)
	a := decodeAudit(t, s.run(t, "audit", "-o", "json", "--operator-user", "Dana.Admin@acme.example", "--system-user", "Integration User"))
	counts := map[[2]string]int{}
	for _, c := range a.Changes {
		counts[[2]string{c.Class, c.ByUsername}]++
		if c.License != "" {
			t.Errorf("without -f a change names License %q", c.License)
		}
	}
	want := map[[2]string]int{
		{ClassOperator, "dana.admin@acme.example"}:          2,
		{ClassSalesforce, "integration@acme.example"}:       3,
		{ClassSalesforce, "license.manager@lmosim.invalid"}: 3,
	}
	if diff := cmp.Diff(want, counts); diff != "" {
		t.Errorf("classes by author (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Dana.Admin@acme.example"}, a.OperatorUsers); diff != "" {
		t.Errorf("operator users (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{defaultSystemUser, "Integration User"}, a.SystemUsers); diff != "" {
		t.Errorf("system users (-want +got):\n%s", diff)
	}
}

func TestAuditWindowAndPackage(t *testing.T) {
	s := auditSim(t)
	a := decodeAudit(t, s.run(t, "audit", "--since", "7d", "--package", "033000000000001AAA", "-o", "json"))
	// Since 2026-11-18T12:00: Soylent's conversion only (the install is another package's).
	if len(a.Changes) != 1 || a.Changes[0].LicenseID != "a0N000000000005AAA" || a.Changes[0].Class != ClassPerson {
		t.Errorf("changes since 7d in package 1: %+v", briefs(a))
	}
	a = decodeAudit(t, s.run(t, "audit", "--since", "60d", "-o", "json"))
	found := false
	for _, c := range a.Changes {
		if c.LicenseID == "a0N000000000003AAA" && c.Field == salesforce.FieldSeats {
			found = c.Class == ClassPerson && c.Old == "20" && c.New == "25"
		}
	}
	if !found {
		t.Errorf("a 60-day window does not show the person's seat edit of 2026-10-20: %+v", briefs(a))
	}
}

func TestAuditTable(t *testing.T) {
	s := auditSim(t)
	r := s.run(t, "audit", "-f", auditGitops(t))
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	golden(t, "audit", r.stdout)
}

func TestAuditCSV(t *testing.T) {
	s := auditSim(t)
	r := s.run(t, "audit", "-f", auditGitops(t), "-o", "csv")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	golden(t, "audit-csv", r.stdout)
	rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 9 || !cmp.Equal(rows[0], auditCSVHeader) {
		t.Errorf("want a header and 8 rows, got %d rows, header %q", len(rows), rows[0])
	}
}

func TestAuditRefusesBadFlags(t *testing.T) {
	s := auditSim(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--since", "soon"}, `--since "soon"`},
		{[]string{"-o", "xml"}, "table or json, or csv"},
		{[]string{"--package", "123"}, `--package "123"`},
		{[]string{"--package", "033000000000009AAA"}, "the LMO has no such package"},
	} {
		r := s.run(t, append([]string{"audit"}, tc.args...)...)
		if r.code != ExitError || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("audit %q: exit %d, stderr %q; want exit 1 naming %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

func TestCSVTextNeutralisesFormulas(t *testing.T) {
	for in, want := range map[string]string{
		"=HYPERLINK(\"x\")": "'=HYPERLINK(\"x\")",
		"@SUM(A1)":          "'@SUM(A1)",
		"Globex":            "Globex",
		"":                  "",
	} {
		if got := csvText(in); got != want {
			t.Errorf("csvText(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"-1": "-1", "-5.5": "-5.5", "-cmd": "'-cmd", "+1": "'+1"} {
		if got := csvValue(in); got != want {
			t.Errorf("csvValue(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAuditHelpSaysHowChangesAreClassified(t *testing.T) {
	r := runEnv(t, nil, nil, "audit", "--help")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"operator", "person", "salesforce", "License Manager", "--operator-user", "-system-user", "no field history", "Example:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("audit --help does not mention %q", want)
		}
	}
	if r := runEnv(t, nil, nil, "help"); !strings.Contains(r.stdout, "lmoctl audit [--since 30d]") {
		t.Errorf("lmoctl help does not list audit:\n%s", r.stdout)
	}
}
