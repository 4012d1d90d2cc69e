package lmoctl

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// startSimSeed is startSim with testdata/seed.yaml changed by edit.
func startSimSeed(t *testing.T, edit func(string) string) *sim {
	t.Helper()
	data, err := os.ReadFile("testdata/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return startSimYAML(t, []byte(edit(string(data))), func() time.Time { return today })
}

func doctorJSON(t *testing.T, s *sim) (Doctor, result) {
	t.Helper()
	r := s.run(t, "doctor", "-o", "json")
	var d Doctor
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("doctor -o json: %v\n%s\n%s", err, r.stdout, r.stderr)
	}
	return d, r
}

func checkNamed(d Doctor, name string) Check {
	for _, c := range d.Checks {
		if c.Name == name {
			return c
		}
	}
	return Check{}
}

func TestDoctorPassesOnAReadyLMO(t *testing.T) {
	s := startSim(t, func() time.Time { return today })
	s.resetStats(t)
	d, r := doctorJSON(t, s)
	if r.code != ExitOK || d.Summary.Fail != 0 || d.Summary.Warn != 0 {
		t.Errorf("doctor on a ready LMO: exit %d, %+v\n%s", r.code, d.Summary, r.stdout)
	}
	for _, name := range []string{"authentication", "api version", "production org", "license management app", "license fields",
		"feature management app", "feature parameter values", "field history", "record types", "license types", "customer and org state", "api allocation"} {
		if c := checkNamed(d, name); c.Result != CheckPass {
			t.Errorf("check %q = %+v, want pass", name, c)
		}
	}
	s.assertNoWrites(t)

	table := s.run(t, "doctor")
	if table.code != ExitOK || !strings.Contains(table.stdout, "CHECK") || !strings.Contains(table.stdout, "0 failed") {
		t.Errorf("doctor table: exit %d\n%s", table.code, table.stdout)
	}
}

func TestDoctorNamesWhatIsWrong(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(string) string
		setup    func(*sim)
		check    string
		result   string
		advice   string
		wantExit int
	}{
		{
			name:  "field history tracking off",
			edit:  func(s string) string { return s + "historyTracking: false\n" },
			check: "field history", result: CheckWarn, advice: "field history tracking", wantExit: ExitOK,
		},
		{
			name:  "no Feature Management App",
			edit:  func(s string) string { return s + "fmaInstalled: false\n" },
			check: "feature management app", result: CheckWarn, advice: "Feature Management App", wantExit: ExitOK,
		},
		{
			name:  "a sandbox",
			edit:  func(s string) string { return strings.Replace(s, "isSandbox: false}", "isSandbox: true}", 1) },
			check: "production org", result: CheckWarn, advice: "allowNonProductionOrg", wantExit: ExitOK,
		},
		{
			name:  "a nearly spent allocation",
			edit:  func(s string) string { return s + "apiDailyLimit: 1000\n" },
			setup: func(s *sim) { s.SetAPIUsage(990) },
			check: "api allocation", result: CheckFail, advice: "raise the allocation", wantExit: ExitError,
		},
		{
			name:  "a field the integration user cannot edit",
			edit:  func(s string) string { return s + "readOnlyFields: [sfLma__Seats__c]\n" },
			check: "license fields", result: CheckFail, advice: "field-level security", wantExit: ExitError,
		},
		{
			name:  "a License object without record types",
			edit:  func(s string) string { return s + "recordTypes: false\n" },
			check: "record types", result: CheckWarn, advice: "record types", wantExit: ExitOK,
		},
		{
			name:  "no License Type field",
			edit:  func(s string) string { return s + "licenseTypeField: false\n" },
			check: "license types", result: CheckWarn, advice: "every license as editable", wantExit: ExitOK,
		},
		{
			name: "licenses AppExchange Checkout manages",
			edit: func(s string) string {
				s = strings.Replace(s, "status: Active, seats: 100,", "status: Active, licenseType: Read-Only, seats: 100,", 1)
				return strings.Replace(s, "status: Active, seats: 20,", "status: Active, licenseType: Read-Only, seats: 20,", 1)
			},
			check: "license types", result: CheckWarn, advice: "AppExchange Checkout", wantExit: ExitOK,
		},
		{
			name:  "no subscriber org status fields",
			edit:  func(s string) string { return s + "orgStatusFields: false\n" },
			check: "customer and org state", result: CheckWarn, advice: "deleted", wantExit: ExitOK,
		},
		{
			name:  "no License Management App",
			edit:  func(s string) string { return s + "lmaInstalled: false\n" },
			check: "license management app", result: CheckFail, advice: "Install the License Management App", wantExit: ExitError,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startSimSeed(t, tt.edit)
			if tt.setup != nil {
				tt.setup(s)
			}
			s.resetStats(t)
			d, r := doctorJSON(t, s)
			c := checkNamed(d, tt.check)
			if c.Result != tt.result || !strings.Contains(c.Advice, tt.advice) {
				t.Errorf("check %q = %+v, want %s with advice naming %q", tt.check, c, tt.result, tt.advice)
			}
			if tt.name == "licenses AppExchange Checkout manages" && !strings.Contains(c.Detail, "2 licenses") {
				t.Errorf("license types detail %q does not count the 2 licenses not editable", c.Detail)
			}
			if r.code != tt.wantExit {
				t.Errorf("exit %d, want %d\n%s", r.code, tt.wantExit, r.stdout)
			}
			s.assertNoWrites(t)
		})
	}
}

func TestDoctorRefusedCredentials(t *testing.T) {
	s := startSim(t, func() time.Time { return today })
	r := runEnv(t, map[string]string{"LMO_INSTANCE_URL": s.url, "LMO_CLIENT_ID": "lmo-operator", "LMO_CLIENT_SECRET": "wrong"}, nil, "doctor", "-o", "json")
	var d Doctor
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("doctor -o json: %v\n%s", err, r.stderr)
	}
	if c := checkNamed(d, "authentication"); c.Result != CheckFail || !strings.Contains(c.Advice, "connected app") || r.code != ExitError {
		t.Errorf("authentication = %+v (exit %d), want a failure pointing at the connected app", c, r.code)
	}
	if strings.Contains(r.stdout, "wrong") {
		t.Errorf("the output shows the secret:\n%s", r.stdout)
	}
}
