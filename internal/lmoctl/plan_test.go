package lmoctl

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/lmo-operator/lmo-operator/internal/drift"
)

const planPackages = `apiVersion: licensing.lmo-operator.dev/v1alpha1
kind: ManagedPackage
metadata: {name: acme-projects}
spec: {lmoRef: {name: acme-lmo}, packageID: 033000000000001AAA}
---
apiVersion: licensing.lmo-operator.dev/v1alpha1
kind: ManagedPackage
metadata: {name: acme-billing}
spec: {lmoRef: {name: acme-lmo}, packageID: "033000000000002"}
`

// planLicenses hold one License per plan outcome.
const planLicenses = `# seats and a feature parameter change
apiVersion: licensing.lmo-operator.dev/v1alpha1
kind: License
metadata: {name: globex}
spec: {packageRef: {name: acme-projects}, subscriberOrgID: 00D5g000004XyZ1AAA, status: Active, seats: 60,
  featureParameters: [{name: acme__MaxProjects, integer: 25}, {name: acme__AdvancedReporting, boolean: true}]}
---
# 60 seats while 80 are in use: an access reduction, held
apiVersion: licensing.lmo-operator.dev/v1alpha1
kind: License
metadata: {name: initech}
spec: {packageRef: {name: acme-projects}, subscriberOrgID: 00D5g000004AbC2AAA, seats: 60}
---
# an Active license can never go back to Trial
apiVersion: licensing.lmo-operator.dev/v1alpha1
kind: License
metadata: {name: umbrella}
spec: {packageRef: {name: acme-projects}, subscriberOrgID: 00D5g000004Gl0bAAA, status: Trial, expiration: "2026-12-20"}
---
# not installed yet
apiVersion: licensing.lmo-operator.dev/v1alpha1
kind: License
metadata: {name: hooli}
spec: {packageRef: {name: acme-projects}, subscriberOrgID: 00D5g000009HoOLAAA, status: Active, seats: SiteLicense, expiration: Never}
---
# observed only
apiVersion: licensing.lmo-operator.dev/v1alpha1
kind: License
metadata: {name: soylent}
spec: {packageRef: {name: acme-projects}, subscriberOrgID: 00D5g000004Ks9pAAA, status: Active, managementPolicy: Observe}
---
# matches the record
apiVersion: licensing.lmo-operator.dev/v1alpha1
kind: License
metadata: {name: wonka}
spec: {packageRef: {name: acme-projects}, subscriberOrgID: 00D5g000004Lm3qAAA, status: Suspended, seats: SiteLicense, expiration: Never}
---
# the customer uninstalled
apiVersion: licensing.lmo-operator.dev/v1alpha1
kind: License
metadata: {name: cyberdyne}
spec: {packageRef: {name: acme-projects}, subscriberOrgID: 00D5g000004Mn4rAAA, status: Active}
---
# suspending a trial, approved by annotation: the value names this change (lmoctl plan -o json shows it)
apiVersion: licensing.lmo-operator.dev/v1alpha1
kind: License
metadata:
  name: stark
  annotations: {licensing.lmo-operator.dev/allow-access-reduction: "af2701d3c4"}
spec: {packageRef: {name: acme-projects}, subscriberOrgID: 00D5g000004Op6tAAA, status: Suspended}
---
# two live licenses: must be pinned
apiVersion: licensing.lmo-operator.dev/v1alpha1
kind: License
metadata: {name: tyrell}
spec: {packageRef: {name: acme-projects}, subscriberOrgID: 00D5g000004No5sAAA, status: Active}
`

const planBilling = `apiVersion: licensing.lmo-operator.dev/v1alpha1
kind: License
metadata: {name: globex-billing}
spec: {packageRef: {name: acme-billing}, subscriberOrgID: 00D5g000004XyZ1AAA, seats: SiteLicense, status: Active}
`

func planDir(t *testing.T) string {
	return writeFiles(t, map[string]string{
		"packages.yaml": planPackages, "licenses/acme.yaml": planLicenses, "licenses/billing.yml": planBilling,
		"kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n",
	})
}

func TestPlanShowsEachChangeAndExitsTwo(t *testing.T) {
	s := startSim(t, func() time.Time { return today })
	dir := planDir(t)
	r := s.run(t, "plan", "-f", dir)
	if r.code != ExitChanges {
		t.Fatalf("plan exited %d, want 2:\n%s%s", r.code, r.stdout, r.stderr)
	}
	golden(t, "plan", r.stdout)
	s.assertNoWrites(t)
}

func TestPlanJSONNamesActionsFlagsAndChanges(t *testing.T) {
	s := startSim(t, func() time.Time { return today })
	r := s.run(t, "plan", "-f", planDir(t), "-o", "json")
	if r.code != ExitChanges {
		t.Fatalf("plan exited %d, want 2:\n%s", r.code, r.stderr)
	}
	var plan Plan
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&plan); err != nil {
		t.Fatalf("plan -o json: %v\n%s", err, r.stdout)
	}
	type row struct {
		Action, Reason, LicenseID string
		Flags                     []string
		Changes                   []FieldChange
	}
	got := map[string]row{}
	for _, l := range plan.Licenses {
		got[l.Name] = row{l.Action, l.Reason, l.LicenseID, l.Flags, l.Changes}
	}
	want := map[string]row{
		"globex": {Action: ActionUpdate, LicenseID: "a0N000000000001AAA", Changes: []FieldChange{
			{"seats", "50", "60"}, {"featureParameters[acme__MaxProjects]", "20", "25"}}},
		"initech": {Action: ActionHeld, Reason: "AccessReductionHeld", LicenseID: "a0N000000000002AAA",
			Flags: []string{FlagAccessReduction}, Changes: []FieldChange{{"seats", "100", "60"}}},
		"umbrella": {Action: ActionImpossible, Reason: "ImpossibleTransition", LicenseID: "a0N000000000003AAA",
			Flags: []string{FlagImpossible}, Changes: []FieldChange{{"status", "Active", "Trial"}, {"expiration", "2027-03-31", "2026-12-20"}}},
		"hooli": {Action: ActionAwaitingInstall, Reason: "AwaitingInstall", Flags: []string{FlagAwaitingInstall},
			Changes: []FieldChange{{"status", "", "Active"}, {"seats", "", "SiteLicense"}, {"expiration", "", "Never"}}},
		"soylent":   {Action: ActionObserve, Reason: "Drifted", LicenseID: "a0N000000000005AAA", Flags: []string{FlagObserveOnly}, Changes: []FieldChange{{"status", "Trial", "Active"}}},
		"wonka":     {Action: ActionUnchanged, LicenseID: "a0N000000000006AAA"},
		"cyberdyne": {Action: ActionImpossible, Reason: "Uninstalled", LicenseID: "a0N000000000007AAA", Flags: []string{FlagImpossible}, Changes: []FieldChange{{"status", "Uninstalled", "Active"}}},
		"stark": {Action: ActionUpdate, LicenseID: "a0N000000000010AAA", Flags: []string{FlagAccessReduction},
			Changes: []FieldChange{{"status", "Trial", "Suspended"}}},
		"tyrell":         {Action: ActionBlocked, Reason: "AmbiguousLicense"},
		"globex-billing": {Action: ActionUnchanged, LicenseID: "a0N000000000011AAA"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("plan rows (-want +got):\n%s", diff)
	}
	approvals := map[string]string{}
	for _, l := range plan.Licenses {
		if l.Approval != "" {
			approvals[l.Name] = l.Approval
		}
	}
	// The approval of a reduction names it: stark's annotation carries it; initech's is held.
	wantApprovals := map[string]string{
		"stark":   "af2701d3c4",
		"initech": drift.ApprovalToken("a0N000000000002AAA", []drift.FieldDrift{{Field: drift.Seats, Desired: "60", Observed: "100"}}),
	}
	if diff := cmp.Diff(wantApprovals, approvals); diff != "" {
		t.Errorf("approvals (-want +got):\n%s", diff)
	}
	wantSummary := PlanSummary{Licenses: 10, Changed: 8, Unchanged: 2, Update: 2, Held: 1, Impossible: 2, AwaitingInstall: 1, Observe: 1, Blocked: 1, AccessReductions: 2}
	if diff := cmp.Diff(wantSummary, plan.Summary); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	if plan.Today != "2026-11-25" {
		t.Errorf("today %q", plan.Today)
	}
	customers := map[string]string{}
	for _, l := range plan.Licenses {
		customers[l.Name] = l.Customer
	}
	// The account's name, else the lead's company (umbrella has both: the account wins); wonka's
	// record names no customer; hooli and tyrell resolve to no single record.
	wantCustomers := map[string]string{"globex": "Globex Corporation", "initech": "Initech", "umbrella": "Umbrella Corp.", "hooli": "",
		"soylent": "Soylent", "wonka": "", "cyberdyne": "Cyberdyne Systems", "stark": "Stark Industries", "tyrell": "", "globex-billing": "Globex Corporation"}
	if diff := cmp.Diff(wantCustomers, customers); diff != "" {
		t.Errorf("customers (-want +got):\n%s", diff)
	}
	s.assertNoWrites(t)
}

// Before its install, a License has no record to name the customer: plan uses the customer
// annotation lmoctl import wrote (or a person added); once the record names one, the record wins.
func TestPlanNamesTheCustomerFromTheAnnotationBeforeTheInstall(t *testing.T) {
	s := startSim(t, func() time.Time { return today })
	dir := writeFiles(t, map[string]string{"packages.yaml": planPackages, "licenses.yaml": `apiVersion: licensing.lmo-operator.dev/v1alpha1
kind: License
metadata: {name: hooli, annotations: {licensing.lmo-operator.dev/customer: Hooli XYZ}}
spec: {packageRef: {name: acme-projects}, subscriberOrgID: 00D5g000009HoOLAAA, status: Active}
---
apiVersion: licensing.lmo-operator.dev/v1alpha1
kind: License
metadata: {name: globex, annotations: {licensing.lmo-operator.dev/customer: Globex (old name)}}
spec: {packageRef: {name: acme-projects}, subscriberOrgID: 00D5g000004XyZ1AAA, status: Active}
`})
	r := s.run(t, "plan", "-f", dir, "-o", "json")
	var plan Plan
	if err := json.Unmarshal([]byte(r.stdout), &plan); err != nil {
		t.Fatalf("%v: %s%s", err, r.stdout, r.stderr)
	}
	got := map[string]string{}
	for _, l := range plan.Licenses {
		got[l.Name] = l.Customer
	}
	if diff := cmp.Diff(map[string]string{"hooli": "Hooli XYZ", "globex": "Globex Corporation"}, got); diff != "" {
		t.Errorf("customers (-want +got):\n%s", diff)
	}
}

func TestPlanRefusesBadFilesNamingFileAndField(t *testing.T) {
	s := startSim(t, func() time.Time { return today })
	lic := func(spec string) string {
		return "apiVersion: licensing.lmo-operator.dev/v1alpha1\nkind: License\nmetadata: {name: bad}\nspec: " + spec + "\n"
	}
	for name, tc := range map[string]struct{ files map[string]string }{
		"seats out of range": {map[string]string{"p.yaml": planPackages, "bad.yaml": lic("{packageRef: {name: acme-projects}, subscriberOrgID: 00D5g000004XyZ1AAA, seats: 0}")}},
		"unknown field":      {map[string]string{"p.yaml": planPackages, "bad.yaml": lic("{packageRef: {name: acme-projects}, subscriberOrgID: 00D5g000004XyZ1AAA, seat: 5}")}},
		"no calendar date":   {map[string]string{"p.yaml": planPackages, "bad.yaml": lic("{packageRef: {name: acme-projects}, subscriberOrgID: 00D5g000004XyZ1AAA, expiration: \"2027-02-30\"}")}},
		"two values":         {map[string]string{"p.yaml": planPackages, "bad.yaml": lic("{packageRef: {name: acme-projects}, subscriberOrgID: 00D5g000004XyZ1AAA, featureParameters: [{name: a__B, integer: 1, boolean: true}]}")}},
		"no identity":        {map[string]string{"p.yaml": planPackages, "bad.yaml": lic("{packageRef: {name: acme-projects}, status: Active}")}},
		"package not in dir": {map[string]string{"bad.yaml": lic("{packageRef: {name: nowhere}, subscriberOrgID: 00D5g000004XyZ1AAA}")}},
	} {
		t.Run(name, func(t *testing.T) {
			r := s.run(t, "plan", "-f", writeFiles(t, tc.files))
			if r.code != ExitError {
				t.Fatalf("exit %d, want 1; stderr %q", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, "bad.yaml") || !strings.Contains(r.stderr, "spec") {
				t.Errorf("error %q does not name the file and field", r.stderr)
			}
		})
	}
	if r := s.run(t, "plan"); r.code != ExitError || !strings.Contains(r.stderr, "-f is required") {
		t.Errorf("plan without -f: exit %d, %q", r.code, r.stderr)
	}
	if r := s.run(t, "plan", "-f", planDir(t), "-o", "yaml"); r.code != ExitError || !strings.Contains(r.stderr, "-o \"yaml\"") {
		t.Errorf("plan -o yaml: exit %d, %q", r.code, r.stderr)
	}
}

// Bug 9: two Licenses in the directory that name the same LMO record (an imported License beside a
// hand-written one) would write alternately. The plan shows the one the operator lets write (the
// oldest, then the first by name) and blocks the other, naming the owner.
func TestPlanFlagsTwoLicensesForOneRecord(t *testing.T) {
	s := startSim(t, func() time.Time { return today })
	dup := `apiVersion: licensing.lmo-operator.dev/v1alpha1
kind: License
metadata: {name: globex-copy}
spec: {packageRef: {name: acme-projects}, licenseID: a0N000000000001, seats: 70}
---
apiVersion: licensing.lmo-operator.dev/v1alpha1
kind: License
metadata: {name: globex}
spec: {packageRef: {name: acme-projects}, subscriberOrgID: 00D5g000004XyZ1AAA, seats: 60}
`
	got := planByName(t, s, map[string]string{"packages.yaml": planPackages, "globex.yaml": dup})
	if p := got["globex"]; p.Action != ActionUpdate {
		t.Errorf("globex (the owner): action %q %q, want update", p.Action, p.Reason)
	}
	p := got["globex-copy"]
	if p.Action != ActionBlocked || p.Reason != "DuplicateLicense" || !strings.Contains(p.Message, "globex ") {
		t.Errorf("globex-copy: %q %q %q, want blocked DuplicateLicense naming globex", p.Action, p.Reason, p.Message)
	}
	if p.Owner != "globex" || !slices.Contains(p.Flags, FlagDuplicate) {
		t.Errorf("globex-copy: owner %q flags %v, want owner globex and flag %s", p.Owner, p.Flags, FlagDuplicate)
	}
	s.assertNoWrites(t)
}

// A record holding a value the operator cannot read blocks only its own License, in the plan as in
// the operator, and the plan names the field and the value.
func TestPlanBlocksAnUnreadableRecordOnly(t *testing.T) {
	frozen := "licenses:\n  - {id: a0N000000000099AAA, subscriberOrgID: 00D5g00000FrOzNAAA, packageID: 033000000000001AAA, status: Frozen, seats: 10}\n"
	s := startSimSeed(t, func(seed string) string { return strings.Replace(seed, "licenses:\n", frozen, 1) })
	lics := `apiVersion: licensing.lmo-operator.dev/v1alpha1
kind: License
metadata: {name: frozen}
spec: {packageRef: {name: acme-projects}, subscriberOrgID: 00D5g00000FrOzNAAA, seats: 20}
---
apiVersion: licensing.lmo-operator.dev/v1alpha1
kind: License
metadata: {name: globex}
spec: {packageRef: {name: acme-projects}, subscriberOrgID: 00D5g000004XyZ1AAA, seats: 60}
`
	got := planByName(t, s, map[string]string{"packages.yaml": planPackages, "l.yaml": lics})
	if p := got["frozen"]; p.Action != ActionBlocked || p.Reason != "UnreadableRecord" || !strings.Contains(p.Message, `"Frozen"`) {
		t.Errorf("frozen: %q %q %q, want blocked UnreadableRecord naming the status", p.Action, p.Reason, p.Message)
	}
	if p := got["globex"]; p.Action != ActionUpdate {
		t.Errorf("globex: %q %q, want update", p.Action, p.Reason)
	}
	s.assertNoWrites(t)
}

// planByName runs `lmoctl plan -o json` over files, expects "something would change", and returns the
// planned Licenses by name.
func planByName(t *testing.T, s *sim, files map[string]string) map[string]PlannedLicense {
	t.Helper()
	r := s.run(t, "plan", "-f", writeFiles(t, files), "-o", "json")
	if r.code != ExitChanges {
		t.Fatalf("plan exited %d, want 2:\n%s", r.code, r.stderr)
	}
	var plan Plan
	if err := json.Unmarshal([]byte(r.stdout), &plan); err != nil {
		t.Fatal(err)
	}
	got := map[string]PlannedLicense{}
	for _, l := range plan.Licenses {
		got[l.Name] = l
	}
	return got
}

func TestPlanMarkdownIsAPullRequestComment(t *testing.T) {
	s := startSim(t, func() time.Time { return today })
	r := s.run(t, "plan", "-f", planDir(t), "-o", "markdown")
	if r.code != ExitChanges {
		t.Fatalf("plan exited %d, want 2:\n%s%s", r.code, r.stdout, r.stderr)
	}
	golden(t, "plan-markdown", r.stdout)
	s.assertNoWrites(t)
}

func TestPlanMarkdownFoldsLongSectionsAndEscapesCells(t *testing.T) {
	plan := &Plan{Summary: PlanSummary{Licenses: 40, Changed: 40, Update: 40}}
	for i := range 40 {
		plan.Licenses = append(plan.Licenses, PlannedLicense{Name: fmt.Sprintf("cust-%02d", i), Action: ActionUpdate,
			Customer: "Pipe | and <b>tag</b>", Changes: []FieldChange{{Field: "seats", Old: "10", New: "20"}}})
	}
	var b strings.Builder
	if err := writePlanMarkdown(&b, plan); err != nil {
		t.Fatal(err)
	}
	golden(t, "plan-markdown-long", b.String())
	out := b.String()
	if strings.Count(out, "\n| cust-") != 40 || !strings.Contains(out, "#### Updates: 40 Licenses") || strings.Count(out, "<details>") != 1 || !strings.Contains(out, "<summary>25 more</summary>") {
		t.Errorf("want 40 rows, the last 25 folded in one <details>:\n%s", out)
	}
	if strings.Contains(out, "<b>") || strings.Contains(out, "Pipe | and") {
		t.Errorf("a cell's pipe or HTML leaked into the table:\n%s", out)
	}
}

// TestCIJobsFailOnlyWhenLmoctlFails runs the plan steps of docs/ci's GitHub Actions and GitLab CI
// jobs with a stand-in lmoctl that exits 0, 2 or 1: the step passes and keeps the comment on 0 and 2
// (2 means the pull request changes licenses) and fails on 1.
func TestCIJobsFailOnlyWhenLmoctlFails(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	var gh struct {
		Jobs map[string]struct {
			Steps []struct {
				ID  string `json:"id"`
				Run string `json:"run"`
			} `json:"steps"`
		} `json:"jobs"`
	}
	var gl map[string]struct {
		Script []string `json:"script"`
	}
	for path, into := range map[string]any{"github-actions-plan.yaml": &gh, "gitlab-ci-plan.yml": &gl} {
		data, err := os.ReadFile(filepath.Join("..", "..", "docs", "ci", path))
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(data, into); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	var ghPlan string
	for _, s := range gh.Jobs["plan"].Steps {
		if s.ID == "plan" {
			ghPlan = s.Run
		}
	}
	glScript := gl["lmoctl-plan"].Script
	if ghPlan == "" || len(glScript) < 3 {
		t.Fatalf("the plan steps are missing: GitHub %q, GitLab %q", ghPlan, glScript)
	}
	scripts := map[string]string{
		"GitHub Actions": ghPlan,
		// Without the go install before, and the note posted after.
		"GitLab CI": strings.Join(glScript[1:3], "\n"),
	}
	for name, script := range scripts {
		for _, code := range []int{0, 2, 1} {
			dir := t.TempDir()
			fake := "#!/bin/sh\necho \"$*\" > " + filepath.Join(dir, "args") + "\necho '" + planMarker + "'\nexit " + strconv.Itoa(code) + "\n"
			if err := os.WriteFile(filepath.Join(dir, "lmoctl"), []byte(fake), 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bash, "-e", "-c", script)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"),
				"GITHUB_OUTPUT="+filepath.Join(dir, "output"), "LICENSES_DIR=licenses", "LMO_JWT_KEY="+filepath.Join(dir, "key"))
			out, err := cmd.CombinedOutput()
			if failed := err != nil; failed != (code == 1) {
				t.Errorf("%s with lmoctl exiting %d: step failed %t, want %t\n%s", name, code, failed, code == 1, out)
			}
			args, _ := os.ReadFile(filepath.Join(dir, "args"))
			if !strings.Contains(string(args), "plan -f licenses -o markdown") {
				t.Errorf("%s ran lmoctl %q", name, args)
			}
			if plan, _ := os.ReadFile(filepath.Join(dir, "plan.md")); !strings.Contains(string(plan), planMarker) {
				t.Errorf("%s with lmoctl exiting %d left plan.md %q", name, code, plan)
			}
		}
	}
}

// A license the LMA does not let anyone modify (its License Type is Read-Only, as for AppExchange
// Checkout's) blocks only its own License, and the plan says who manages it; an org without record
// types or the License Type field still plans.
func TestPlanBlocksALicenseTheLMADoesNotLetAnyoneModify(t *testing.T) {
	lics := `apiVersion: licensing.lmo-operator.dev/v1alpha1
kind: License
metadata: {name: checkout}
spec: {packageRef: {name: acme-projects}, subscriberOrgID: 00D5g000004AbC2AAA, seats: 120}
---
apiVersion: licensing.lmo-operator.dev/v1alpha1
kind: License
metadata: {name: globex}
spec: {packageRef: {name: acme-projects}, subscriberOrgID: 00D5g000004XyZ1AAA, seats: 60}
`
	s := startSimSeed(t, func(seed string) string {
		return strings.Replace(seed, "status: Active, seats: 100,", "status: Active, licenseType: Read-Only, seats: 100,", 1)
	})
	got := planByName(t, s, map[string]string{"packages.yaml": planPackages, "l.yaml": lics})
	if p := got["checkout"]; p.Action != ActionBlocked || p.Reason != "NotEditable" || !strings.Contains(p.Message, "AppExchange Checkout") {
		t.Errorf("checkout: %q %q %q, want blocked NotEditable naming AppExchange Checkout", p.Action, p.Reason, p.Message)
	}
	if p := got["globex"]; p.Action != ActionUpdate {
		t.Errorf("globex: %q %q, want update", p.Action, p.Reason)
	}
	s.assertNoWrites(t)

	bare := startSimSeed(t, func(seed string) string { return seed + "recordTypes: false\nlicenseTypeField: false\n" })
	got = planByName(t, bare, map[string]string{"packages.yaml": planPackages, "l.yaml": lics})
	if p := got["checkout"]; p.Action != ActionUpdate {
		t.Errorf("checkout without the License Type field: %q %q %q, want update", p.Action, p.Reason, p.Message)
	}
}
