package drift

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// today is the fixed "now" of the policy tests; 90 days later is 2026-06-13.
var today = time.Date(2026, time.March, 15, 17, 30, 0, 0, time.UTC)

const (
	todayText    = "2026-03-15"
	trialLimit   = "2026-06-13"
	allowAnnoKey = "licensing.lmo-operator.dev/allow-access-reduction"
)

func TestTerminal(t *testing.T) {
	tests := []struct {
		name       string
		observed   Terms
		wantReason string
	}{
		{"an Uninstalled record refuses every write", Terms{Status: "Uninstalled"}, ReasonUninstalled},
		{"an Active record may be written", Terms{Status: "Active"}, ""},
		{"a Trial record may be written", Terms{Status: "Trial"}, ""},
		{"a Suspended record may be written", Terms{Status: "Suspended"}, ""},
		{"a record with no status may be written", Terms{}, ""},
		{"a lower-case uninstalled is not the LMA's picklist value", Terms{Status: "uninstalled"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Terminal(tt.observed)
			if got.Reason != tt.wantReason {
				t.Errorf("Terminal().Reason = %q, want %q", got.Reason, tt.wantReason)
			}
			if got.Allowed() != (tt.wantReason == "") {
				t.Errorf("Terminal().Allowed() = %v with reason %q", got.Allowed(), got.Reason)
			}
			if tt.wantReason != "" && !strings.Contains(got.Message, "licenseID") {
				t.Errorf("Terminal().Message = %q, want it to say how to pin another record", got.Message)
			}
		})
	}
}

func TestTransition(t *testing.T) {
	tests := []struct {
		name        string
		desired     Terms
		observed    Terms
		wantReason  string
		wantMessage string // a substring of the message, when refused
	}{
		{
			name:        "an Active license can never go back to Trial",
			desired:     Terms{Status: "Trial", Expiration: "2026-04-01"},
			observed:    Terms{Status: "Active", Expiration: Never},
			wantReason:  ReasonImpossibleTransition,
			wantMessage: "never go back to Trial",
		},
		{
			name:        "an Active license goes back to Trial refused even with no expiration managed",
			desired:     Terms{Status: "Trial"},
			observed:    Terms{Status: "Active", Expiration: "2026-04-01"},
			wantReason:  ReasonImpossibleTransition,
			wantMessage: "never go back to Trial",
		},
		{
			name:     "a Trial license may become Active with no expiration",
			desired:  Terms{Status: "Active", Expiration: Never},
			observed: Terms{Status: "Trial", Expiration: "2026-04-01"},
		},
		{
			name:     "a Trial license may become Active for longer than 90 days",
			desired:  Terms{Status: "Active", Expiration: "2030-01-01"},
			observed: Terms{Status: "Trial", Expiration: "2026-04-01"},
		},
		{
			// Terms carry no history, so Transition cannot tell a Suspended license that was once Active
			// (which the LMA says can never return to Trial) from one that never was, and the API may
			// not refuse it: only a record that is a Trial now may be set to Trial.
			name:        "a Suspended license never goes to Trial",
			desired:     Terms{Status: "Trial", Expiration: "2026-04-01"},
			observed:    Terms{Status: "Suspended", Expiration: "2026-01-01"},
			wantReason:  ReasonImpossibleTransition,
			wantMessage: "only a license that is a Trial now",
		},
		{
			name:     "a trial of exactly 90 days from today is accepted",
			desired:  Terms{Status: "Trial", Expiration: trialLimit},
			observed: Terms{Status: "Trial", Expiration: "2026-04-01"},
		},
		{
			name:        "a trial of 91 days from today is refused",
			desired:     Terms{Status: "Trial", Expiration: "2026-06-14"},
			observed:    Terms{Status: "Trial", Expiration: "2026-04-01"},
			wantReason:  ReasonImpossibleTransition,
			wantMessage: "A trial lasts at most 90 days; spec.expiration must be on or before " + trialLimit,
		},
		{
			name:        "a trial far beyond 90 days is refused",
			desired:     Terms{Status: "Trial", Expiration: "2027-01-01"},
			observed:    Terms{Status: "Trial", Expiration: "2026-04-01"},
			wantReason:  ReasonImpossibleTransition,
			wantMessage: "at most 90 days",
		},
		{
			name:        "a trial that never expires is refused",
			desired:     Terms{Status: "Trial", Expiration: Never},
			observed:    Terms{Status: "Trial", Expiration: "2026-04-01"},
			wantReason:  ReasonImpossibleTransition,
			wantMessage: "at most 90 days",
		},
		{
			name:        "Trial desired against a record that never expires is refused when expiration is unmanaged",
			desired:     Terms{Status: "Trial"},
			observed:    Terms{Status: "Trial", Expiration: Never},
			wantReason:  ReasonImpossibleTransition,
			wantMessage: "at most 90 days",
		},
		{
			name:        "an expiration beyond 90 days on a record that stays Trial is refused",
			desired:     Terms{Expiration: "2026-12-31"},
			observed:    Terms{Status: "Trial", Expiration: "2026-04-01"},
			wantReason:  ReasonImpossibleTransition,
			wantMessage: "at most 90 days",
		},
		{
			name:     "a seats change to a Trial record that never expires is left to the LMO",
			desired:  Terms{Seats: seats(10)},
			observed: Terms{Status: "Trial", Expiration: Never},
		},
		{
			name:     "a parameter change to a Trial record beyond 90 days is left to the LMO",
			desired:  Terms{Params: map[string]string{"acme__MaxProjects": "5"}},
			observed: Terms{Status: "Trial", Expiration: "2026-12-31"},
		},
		{
			name:        "Trial managed against a record that stays Trial but never expires is refused",
			desired:     Terms{Status: "Trial", Seats: seats(10)},
			observed:    Terms{Status: "Trial", Expiration: Never},
			wantReason:  ReasonImpossibleTransition,
			wantMessage: "at most 90 days",
		},
		{
			name:     "an expiration within 90 days on a record that stays Trial is accepted",
			desired:  Terms{Expiration: "2026-05-01"},
			observed: Terms{Status: "Trial", Expiration: "2026-04-01"},
		},
		{
			name:     "an expiration already past on a Trial is not a transition question",
			desired:  Terms{Status: "Trial", Expiration: "2026-01-01"},
			observed: Terms{Status: "Trial", Expiration: "2026-04-01"},
		},
		{
			name:     "a Trial with no expiration anywhere is left to the LMO",
			desired:  Terms{Status: "Trial"},
			observed: Terms{Status: "Trial"},
		},
		{
			name:     "an Active license may be set to never expire",
			desired:  Terms{Expiration: Never},
			observed: Terms{Status: "Active", Expiration: "2026-04-01"},
		},
		{
			name:     "an Active license may be suspended",
			desired:  Terms{Status: "Suspended"},
			observed: Terms{Status: "Active", Expiration: Never},
		},
		{
			name:     "a seats-only change to an Active license is accepted",
			desired:  Terms{Seats: seats(10)},
			observed: Terms{Status: "Active", Expiration: Never},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Transition(tt.desired, tt.observed, today)
			if got.Reason != tt.wantReason {
				t.Fatalf("Transition() = %+v, want reason %q", got, tt.wantReason)
			}
			if tt.wantReason == "" {
				if got.Message != "" {
					t.Errorf("Transition() allowed the change with message %q, want none", got.Message)
				}
				return
			}
			if !strings.Contains(got.Message, tt.wantMessage) {
				t.Errorf("Transition().Message = %q, want it to contain %q", got.Message, tt.wantMessage)
			}
		})
	}
}

func TestTransitionMeasuresNinetyDaysFromTheGivenDay(t *testing.T) {
	// The same desired terms are fine one day and refused the next: the clock is the caller's.
	desired := Terms{Status: "Trial", Expiration: trialLimit}
	observed := Terms{Status: "Trial", Expiration: "2026-04-01"}
	if got := Transition(desired, observed, today); !got.Allowed() {
		t.Errorf("Transition() on %s = %+v, want allowed", todayText, got)
	}
	if got := Transition(desired, observed, today.AddDate(0, 0, -1)); got.Reason != ReasonImpossibleTransition {
		t.Errorf("Transition() a day earlier = %+v, want %s", got, ReasonImpossibleTransition)
	}
	// Across a leap day: 2028-01-01 + 90 days is 2028-03-31.
	leap := time.Date(2028, time.January, 1, 0, 0, 0, 0, time.UTC)
	if got := Transition(Terms{Status: "Trial", Expiration: "2028-03-31"}, Terms{}, leap); !got.Allowed() {
		t.Errorf("Transition() to 2028-03-31 from 2028-01-01 = %+v, want allowed", got)
	}
	if got := Transition(Terms{Status: "Trial", Expiration: "2028-04-01"}, Terms{}, leap); got.Allowed() {
		t.Errorf("Transition() to 2028-04-01 from 2028-01-01 allowed, want refused")
	}
}

func TestAccessReductions(t *testing.T) {
	tests := []struct {
		name     string
		desired  Terms
		observed Terms
		used     *int64
		want     []string
	}{
		{
			name:     "suspending an Active license cuts access",
			desired:  Terms{Status: "Suspended"},
			observed: Terms{Status: "Active"},
			want:     []string{"status Active to Suspended"},
		},
		{
			name:     "suspending a Trial license cuts access",
			desired:  Terms{Status: "Suspended"},
			observed: Terms{Status: "Trial"},
			want:     []string{"status Trial to Suspended"},
		},
		{
			name:     "keeping a Suspended license suspended cuts nothing new",
			desired:  Terms{Status: "Suspended"},
			observed: Terms{Status: "Suspended"},
		},
		{
			name:     "activating a Suspended license is no reduction",
			desired:  Terms{Status: "Active"},
			observed: Terms{Status: "Suspended"},
		},
		{
			name:     "moving the expiration to a date already past cuts access",
			desired:  Terms{Expiration: "2026-03-14"},
			observed: Terms{Expiration: "2027-01-01"},
			want:     []string{"expiration 2026-03-14 is already past"},
		},
		{
			name:     "moving a license that never expired to a past date cuts access",
			desired:  Terms{Expiration: "2025-01-01"},
			observed: Terms{Expiration: Never},
			want:     []string{"expiration 2025-01-01 is already past"},
		},
		{
			name:     "an expiration of today is not yet past",
			desired:  Terms{Expiration: todayText},
			observed: Terms{Expiration: "2027-01-01"},
		},
		{
			name:     "an expiration unchanged though past is no reduction",
			desired:  Terms{Expiration: "2025-01-01"},
			observed: Terms{Expiration: "2025-01-01"},
		},
		{
			name:     "shortening the expiration to a future date is no reduction",
			desired:  Terms{Expiration: "2026-03-16"},
			observed: Terms{Expiration: "2027-01-01"},
		},
		{
			name:     "setting the expiration to Never is no reduction",
			desired:  Terms{Expiration: Never},
			observed: Terms{Expiration: "2025-01-01"},
		},
		{
			name:     "fewer seats than the customer uses cuts access",
			desired:  Terms{Seats: seats(5)},
			observed: Terms{Seats: seats(20)},
			used:     seats(10),
			want:     []string{"seats 5 below the 10 in use"},
		},
		{
			name:     "a site license cut to fewer seats than in use cuts access",
			desired:  Terms{Seats: seats(5)},
			observed: Terms{Seats: seats(SiteLicenseSeats)},
			used:     seats(10),
			want:     []string{"seats 5 below the 10 in use"},
		},
		{
			name:     "seats exactly at the number in use is no reduction",
			desired:  Terms{Seats: seats(10)},
			observed: Terms{Seats: seats(20)},
			used:     seats(10),
		},
		{
			name:     "raising seats is no reduction",
			desired:  Terms{Seats: seats(50)},
			observed: Terms{Seats: seats(20)},
			used:     seats(30),
		},
		{
			name:     "seats already below usage and unchanged cut nothing new",
			desired:  Terms{Seats: seats(5)},
			observed: Terms{Seats: seats(5)},
			used:     seats(10),
		},
		{
			name:     "a site license is never below usage",
			desired:  Terms{Seats: seats(SiteLicenseSeats)},
			observed: Terms{Seats: seats(5)},
			used:     seats(10),
		},
		{
			// Without the record's used licenses the operator cannot tell whether fewer seats cut
			// anyone off, so it holds the change like the others (issue 13).
			name:     "lowering seats while usage is unknown is held",
			desired:  Terms{Seats: seats(1)},
			observed: Terms{Seats: seats(100)},
			used:     nil,
			want:     []string{"seats 100 to 1 while the seats in use are unknown"},
		},
		{
			name:     "raising seats while usage is unknown is no reduction",
			desired:  Terms{Seats: seats(200)},
			observed: Terms{Seats: seats(100)},
		},
		{
			name:     "lowering a site license while usage is unknown is held",
			desired:  Terms{Seats: seats(10)},
			observed: Terms{Seats: seats(SiteLicenseSeats)},
			want:     []string{"seats SiteLicense to 10 while the seats in use are unknown"},
		},
		{
			name:     "turning a Boolean feature parameter off cuts access",
			desired:  Terms{Params: map[string]string{"acme__Beta": "false"}},
			observed: Terms{Params: map[string]string{"acme__Beta": "true"}},
			used:     seats(0),
			want:     []string{"featureParameters[acme__Beta] true to false"},
		},
		{
			name:     "turning a Boolean feature parameter on is no reduction",
			desired:  Terms{Params: map[string]string{"acme__Beta": "true"}},
			observed: Terms{Params: map[string]string{"acme__Beta": "false"}},
			used:     seats(0),
		},
		{
			name:     "lowering an Integer feature parameter cuts access",
			desired:  Terms{Params: map[string]string{"acme__MaxProjects": "5"}},
			observed: Terms{Params: map[string]string{"acme__MaxProjects": "20"}},
			used:     seats(0),
			want:     []string{"featureParameters[acme__MaxProjects] 20 to 5"},
		},
		{
			name:     "raising an Integer feature parameter is no reduction",
			desired:  Terms{Params: map[string]string{"acme__MaxProjects": "50"}},
			observed: Terms{Params: map[string]string{"acme__MaxProjects": "20"}},
			used:     seats(0),
		},
		{
			name:     "moving a Date feature parameter earlier cuts access",
			desired:  Terms{Params: map[string]string{"acme__SupportUntil": "2026-06-30"}},
			observed: Terms{Params: map[string]string{"acme__SupportUntil": "2027-06-30"}},
			used:     seats(0),
			want:     []string{"featureParameters[acme__SupportUntil] 2027-06-30 to 2026-06-30"},
		},
		{
			name:     "setting a parameter that had no value is no reduction",
			desired:  Terms{Params: map[string]string{"acme__MaxProjects": "5"}},
			observed: Terms{Params: map[string]string{"acme__MaxProjects": ""}},
			used:     seats(0),
		},
		{
			name:     "unmanaged fields cut nothing whatever the record says",
			desired:  Terms{},
			observed: Terms{Status: "Active", Seats: seats(100), Expiration: "2027-01-01"},
			used:     seats(50),
		},
		{
			name:     "all three reductions at once are listed as status, expiration, seats",
			desired:  Terms{Status: "Suspended", Seats: seats(2), Expiration: "2026-01-31"},
			observed: Terms{Status: "Active", Seats: seats(20), Expiration: Never},
			used:     seats(3),
			want: []string{
				"status Active to Suspended",
				"expiration 2026-01-31 is already past",
				"seats 2 below the 3 in use",
			},
		},
		{
			name:     "a reduction next to a non-reduction lists only the reduction",
			desired:  Terms{Status: "Active", Seats: seats(2)},
			observed: Terms{Status: "Trial", Seats: seats(20)},
			used:     seats(3),
			want:     []string{"seats 2 below the 3 in use"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AccessReductions(tt.desired, tt.observed, tt.used, todayText)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("AccessReductions() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHoldAccessReduction(t *testing.T) {
	reductions := []string{"status Active to Suspended", "seats 2 below the 3 in use"}
	const token = "0123456789"
	held := "The change would cut the customer's access now (status Active to Suspended; seats 2 below the 3 in use); "
	tests := []struct {
		name       string
		reductions []string
		approval   string
		want       Decision
	}{
		{
			name:       "a reduction without approval is held and names the annotation and the value that approves it",
			reductions: reductions,
			want: Decision{
				Reason:  ReasonAccessReductionHeld,
				Message: held + "to apply this change, add the annotation " + allowAnnoKey + ": \"0123456789\"",
			},
		},
		{
			name:       "an approval of this change proceeds",
			reductions: reductions,
			approval:   token,
		},
		{
			name:       "an approval of another change is held and says so",
			reductions: reductions,
			approval:   "9999999999",
			want: Decision{
				Reason: ReasonAccessReductionHeld,
				Message: held + "the annotation " + allowAnnoKey + " approves another change (9999999999); " +
					"to apply this one, set it to \"0123456789\"",
			},
		},
		{
			name:       "\"true\" approves no change",
			reductions: reductions,
			approval:   "true",
			want: Decision{
				Reason: ReasonAccessReductionHeld,
				Message: held + "the annotation " + allowAnnoKey + " approves another change (true); " +
					"to apply this one, set it to \"0123456789\"",
			},
		},
		{
			name: "no reduction proceeds without approval",
		},
		{
			name:       "an empty list of reductions proceeds",
			reductions: []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := HoldAccessReduction(tt.reductions, tt.approval, token, allowAnnoKey)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("HoldAccessReduction() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestApprovalTokenNamesOneChange(t *testing.T) {
	diffs := []FieldDrift{{Field: Seats, Desired: "120", Observed: "130"}, {Field: Status, Desired: "Suspended", Observed: "Active"}}
	base := ApprovalToken("a0B000000000001AAA", diffs)
	if len(base) != 10 || strings.Trim(base, "0123456789abcdef") != "" {
		t.Fatalf("ApprovalToken() = %q, want 10 lowercase hex digits", base)
	}
	same := map[string][]FieldDrift{
		"the 15-character form of the record id": nil,
		"the fields in another order":            {diffs[1], diffs[0]},
	}
	for name, d := range same {
		id := "a0B000000000001AAA"
		if d == nil {
			d, id = diffs, "a0B000000000001"
		}
		if got := ApprovalToken(id, d); got != base {
			t.Errorf("%s: ApprovalToken() = %q, want %q", name, got, base)
		}
	}
	other := map[string]struct {
		id    string
		diffs []FieldDrift
	}{
		"another record":           {"a0B000000000002AAA", diffs},
		"another new value":        {"a0B000000000001AAA", []FieldDrift{Drifted(Seats, "110", "130"), diffs[1]}},
		"another old value":        {"a0B000000000001AAA", []FieldDrift{Drifted(Seats, "120", "140"), diffs[1]}},
		"one field fewer":          {"a0B000000000001AAA", diffs[:1]},
		"values that run together": {"a0B000000000001AAA", []FieldDrift{Drifted(Seats, "1", "20130"), diffs[1]}},
	}
	for name, o := range other {
		if got := ApprovalToken(o.id, o.diffs); got == base {
			t.Errorf("%s: ApprovalToken() = %q, the same as the original change's", name, got)
		}
	}
}

func TestParams(t *testing.T) {
	defs := map[string]Param{
		"acme__MaxProjects":       {DataType: "Integer", Writable: true},
		"acme__AdvancedReporting": {DataType: "Boolean", Writable: true},
		"acme__SupportUntil":      {DataType: "Date", Writable: true},
		"acme__ActiveUsers":       {DataType: "Integer", Writable: false},
	}
	tests := []struct {
		name    string
		desired map[string]string
		kinds   map[string]string
		want    Decision
	}{
		{
			name:    "values of the right type for writable parameters are accepted",
			desired: map[string]string{"acme__MaxProjects": "50", "acme__AdvancedReporting": "true", "acme__SupportUntil": "2027-06-30"},
			kinds:   map[string]string{"acme__MaxProjects": "Integer", "acme__AdvancedReporting": "Boolean", "acme__SupportUntil": "Date"},
		},
		{
			name: "no parameters are accepted",
		},
		{
			name:    "a name the package does not have is an invalid spec",
			desired: map[string]string{"acme__Nope": "1"},
			kinds:   map[string]string{"acme__Nope": "Integer"},
			want:    Decision{ReasonInvalidSpec, "spec.featureParameters[acme__Nope]: the package has no feature parameter of that name"},
		},
		{
			name:    "a Subscriber-to-LMO parameter is read-only",
			desired: map[string]string{"acme__ActiveUsers": "3"},
			kinds:   map[string]string{"acme__ActiveUsers": "Integer"},
			want: Decision{ReasonReadOnlyParameter, "spec.featureParameters[acme__ActiveUsers] is a Subscriber-to-LMO parameter: " +
				"the subscriber org reports it and it cannot be set; remove it from the spec"},
		},
		{
			name:    "a boolean value for an integer parameter is an invalid spec",
			desired: map[string]string{"acme__MaxProjects": "true"},
			kinds:   map[string]string{"acme__MaxProjects": "Boolean"},
			want:    Decision{ReasonInvalidSpec, "spec.featureParameters[acme__MaxProjects] is an Integer parameter; set its integer value"},
		},
		{
			name:    "a value with no kind is an invalid spec",
			desired: map[string]string{"acme__SupportUntil": "2027-06-30"},
			want:    Decision{ReasonInvalidSpec, "spec.featureParameters[acme__SupportUntil] is a Date parameter; set its date value"},
		},
		{
			name:    "with several problems the first name in sorted order is reported",
			desired: map[string]string{"zeta__Unknown": "1", "acme__ActiveUsers": "3", "acme__MaxProjects": "true"},
			kinds:   map[string]string{"zeta__Unknown": "Integer", "acme__ActiveUsers": "Integer", "acme__MaxProjects": "Boolean"},
			want: Decision{ReasonReadOnlyParameter, "spec.featureParameters[acme__ActiveUsers] is a Subscriber-to-LMO parameter: " +
				"the subscriber org reports it and it cannot be set; remove it from the spec"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 10 { // map order must not pick a different problem
				got := Params(tt.desired, tt.kinds, defs)
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Fatalf("Params() mismatch (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestValidDate(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"an ordinary date is valid", "2027-06-30", true},
		{"February 29 of a leap year is valid", "2028-02-29", true},
		{"February 29 of a common year is invalid", "2027-02-29", false},
		{"February 30 is invalid", "2027-02-30", false},
		{"April 31 is invalid", "2027-04-31", false},
		{"month 13 is invalid", "2027-13-01", false},
		{"day zero is invalid", "2027-01-00", false},
		{"a single-digit month is invalid", "2027-6-30", false},
		{"Never is not a date", Never, false},
		{"the empty string is not a date", "", false},
		{"a timestamp is not a date", "2027-06-30T00:00:00Z", false},
		{"a date with trailing space is invalid", "2027-06-30 ", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidDate(tt.in); got != tt.want {
				t.Errorf("ValidDate(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}
