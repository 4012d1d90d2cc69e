package drift

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func seats(n int64) *int64 { return &n }

func TestSeatsText(t *testing.T) {
	tests := []struct {
		name  string
		seats *int64
		want  string
	}{
		{"nil seats show as empty", nil, ""},
		{"a positive count shows as the number", seats(250), "250"},
		{"zero seats show as 0", seats(0), "0"},
		{"minus one shows as a site license", seats(SiteLicenseSeats), SiteLicense},
		{"any negative number shows as a site license", seats(-7), SiteLicense},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SeatsText(tt.seats); got != tt.want {
				t.Errorf("SeatsText() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	observed := Terms{
		Status:     "Active",
		Seats:      seats(100),
		Expiration: "2027-06-30",
		Params:     map[string]string{"acme__MaxProjects": "50", "acme__AdvancedReporting": "true"},
	}
	tests := []struct {
		name     string
		desired  Terms
		observed Terms
		want     []FieldDrift
	}{
		{
			name:     "an empty desired side manages nothing and reports no drift",
			desired:  Terms{},
			observed: observed,
		},
		{
			name:     "unmanaged fields are ignored even when the record differs",
			desired:  Terms{Status: "Active"},
			observed: Terms{Status: "Active", Seats: seats(1), Expiration: "2020-01-01", Params: map[string]string{"x": "1"}},
		},
		{
			name:     "desired terms equal to the record report no drift",
			desired:  observed,
			observed: observed,
		},
		{
			name:     "a different status is reported",
			desired:  Terms{Status: "Suspended"},
			observed: observed,
			want:     []FieldDrift{Drifted(Status, "Suspended", "Active")},
		},
		{
			name:     "a different seat count is reported as text",
			desired:  Terms{Seats: seats(250)},
			observed: observed,
			want:     []FieldDrift{Drifted(Seats, "250", "100")},
		},
		{
			name:     "a site license desired against a number is reported",
			desired:  Terms{Seats: seats(SiteLicenseSeats)},
			observed: observed,
			want:     []FieldDrift{Drifted(Seats, SiteLicense, "100")},
		},
		{
			name:     "a number desired against a site license is reported",
			desired:  Terms{Seats: seats(10)},
			observed: Terms{Seats: seats(SiteLicenseSeats)},
			want:     []FieldDrift{Drifted(Seats, "10", SiteLicense)},
		},
		{
			name:     "any negative seat count in the record is the same site license",
			desired:  Terms{Seats: seats(SiteLicenseSeats)},
			observed: Terms{Seats: seats(-5)},
		},
		{
			name:     "seats desired against an empty record value show the observed side as empty",
			desired:  Terms{Seats: seats(10)},
			observed: Terms{},
			want:     []FieldDrift{Drifted(Seats, "10", "")},
		},
		{
			name:     "Never desired against a date is reported",
			desired:  Terms{Expiration: Never},
			observed: observed,
			want:     []FieldDrift{Drifted(Expiration, Never, "2027-06-30")},
		},
		{
			name:     "a date desired against Never is reported",
			desired:  Terms{Expiration: "2027-06-30"},
			observed: Terms{Expiration: Never},
			want:     []FieldDrift{Drifted(Expiration, "2027-06-30", Never)},
		},
		{
			name:     "Never desired against Never reports no drift",
			desired:  Terms{Expiration: Never},
			observed: Terms{Expiration: Never},
		},
		{
			name:     "a desired status against an empty record status shows the observed side as empty",
			desired:  Terms{Status: "Active"},
			observed: Terms{},
			want:     []FieldDrift{Drifted(Status, "Active", "")},
		},
		{
			name:     "a managed parameter the record has no value for is reported against empty",
			desired:  Terms{Params: map[string]string{"acme__SupportUntil": "2027-06-30"}},
			observed: observed,
			want:     []FieldDrift{Drifted(ParamOf("acme__SupportUntil"), "2027-06-30", "")},
		},
		{
			name:     "a managed parameter desired empty matches a record with no value",
			desired:  Terms{Params: map[string]string{"acme__SupportUntil": ""}},
			observed: Terms{},
		},
		{
			name:     "parameters the spec leaves out are ignored",
			desired:  Terms{Params: map[string]string{"acme__MaxProjects": "50"}},
			observed: observed,
		},
		{
			name: "drifted parameters are listed sorted by name",
			desired: Terms{Params: map[string]string{
				"zeta__Z": "1", "acme__MaxProjects": "75", "beta__B": "false", "acme__AdvancedReporting": "true",
			}},
			observed: observed,
			want: []FieldDrift{
				Drifted(ParamOf("acme__MaxProjects"), "75", "50"),
				Drifted(ParamOf("beta__B"), "false", ""),
				Drifted(ParamOf("zeta__Z"), "1", ""),
			},
		},
		{
			name: "every field drifting comes out as status, seats, expiration, then parameters",
			desired: Terms{
				Status:     "Suspended",
				Seats:      seats(SiteLicenseSeats),
				Expiration: Never,
				Params:     map[string]string{"b": "2", "a": "1"},
			},
			observed: Terms{Status: "Trial", Seats: seats(5), Expiration: "2026-04-01"},
			want: []FieldDrift{
				Drifted(Status, "Suspended", "Trial"),
				Drifted(Seats, SiteLicense, "5"),
				Drifted(Expiration, Never, "2026-04-01"),
				Drifted(ParamOf("a"), "1", ""),
				Drifted(ParamOf("b"), "2", ""),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Diff(tt.desired, tt.observed)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Diff() mismatch (-want +got):\n%s", diff)
			}
			// Map iteration order changes between runs; the result must not.
			for range 20 {
				if diff := cmp.Diff(got, Diff(tt.desired, tt.observed)); diff != "" {
					t.Fatalf("Diff() is not deterministic (-first +later):\n%s", diff)
				}
			}
		})
	}
}

func TestParamField(t *testing.T) {
	if got, want := ParamField("acme__MaxProjects"), "featureParameters[acme__MaxProjects]"; got != want {
		t.Errorf("ParamField() = %q, want %q", got, want)
	}
}

func TestField(t *testing.T) {
	tests := []struct {
		name        string
		field       Field
		text        string
		param       string
		isParam     bool
		differsFrom []Field
	}{
		{"status is named status", Status, "status", "", false, nil},
		{"seats are named seats", Seats, "seats", "", false, nil},
		{"expiration is named expiration", Expiration, "expiration", "", false, nil},
		{"a parameter is named by its full name in brackets", ParamOf("acme__MaxProjects"), "featureParameters[acme__MaxProjects]", "acme__MaxProjects", true, nil},
		{"a parameter whose name has a bracket keeps it", ParamOf("a]b["), "featureParameters[a]b[]", "a]b[", true, nil},
		{"a parameter named status is not the status", ParamOf("status"), "featureParameters[status]", "status", true, []Field{Status}},
		{"the zero field is named nothing", Field{}, "", "", false, []Field{ParamOf("")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.field.String(); got != tt.text {
				t.Errorf("String() = %q, want %q", got, tt.text)
			}
			if name, ok := tt.field.Parameter(); name != tt.param || ok != tt.isParam {
				t.Errorf("Parameter() = %q, %v; want %q, %v", name, ok, tt.param, tt.isParam)
			}
			if d := Drifted(tt.field, "1", "2"); d.Field != tt.field || d.Desired != "1" || d.Observed != "2" {
				t.Errorf("Drifted() = %+v; want Field %v", d, tt.field)
			}
			for _, other := range tt.differsFrom {
				if tt.field == other || tt.field.Equal(other) {
					t.Errorf("%v equals %v", tt.field, other)
				}
			}
		})
	}
}
