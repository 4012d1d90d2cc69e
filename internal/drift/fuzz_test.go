package drift

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fieldRank orders drift fields as Diff promises: status, seats, expiration, then parameters.
func fieldRank(field Field) int {
	switch field {
	case Status:
		return 0
	case Seats:
		return 1
	case Expiration:
		return 2
	default:
		return 3
	}
}

// paramName is the name of a parameter's field; Diff sorts by name, not by field text.
func paramName(field Field) string {
	name, _ := field.Parameter()
	return name
}

// fuzzTerms builds terms from fuzzer input; hasSeats false leaves seats nil, params is "name=value"
// pairs separated by ';'.
func fuzzTerms(status string, hasSeats bool, seatCount int64, expiration, params string) Terms {
	t := Terms{Status: status, Expiration: expiration}
	if hasSeats {
		t.Seats = &seatCount
	}
	if params != "" {
		t.Params = map[string]string{}
		for pair := range strings.SplitSeq(params, ";") {
			name, value, _ := strings.Cut(pair, "=")
			t.Params[name] = value
		}
	}
	return t
}

func FuzzDiff(f *testing.F) {
	f.Add("Active", true, int64(10), "2027-06-30", "a=1;b=true", "Trial", true, int64(5), "2026-04-01", "a=2")
	f.Add("Suspended", true, int64(-1), "Never", "", "Active", false, int64(0), "", "")
	f.Add("", false, int64(0), "", "", "Uninstalled", true, int64(-7), "Never", "x=")
	f.Add("Trial", true, int64(-1), "", "=;=x;z=2028-02-29", "Trial", true, int64(-99), "", "z=2028-02-29")
	f.Add("", false, int64(0), "", "a!=1;a=2;a]=3", "", false, int64(0), "", "")
	f.Fuzz(func(t *testing.T,
		dStatus string, dHasSeats bool, dSeats int64, dExp, dParams string,
		oStatus string, oHasSeats bool, oSeats int64, oExp, oParams string,
	) {
		desired := fuzzTerms(dStatus, dHasSeats, dSeats, dExp, dParams)
		observed := fuzzTerms(oStatus, oHasSeats, oSeats, oExp, oParams)

		got := Diff(desired, observed)
		if again := Diff(desired, observed); !cmp.Equal(got, again) {
			t.Fatalf("Diff is not deterministic:\n%s", cmp.Diff(got, again))
		}
		for i, d := range got {
			if d.Desired == d.Observed {
				t.Errorf("entry %d %+v reports drift between equal values", i, d)
			}
			if i > 0 {
				prev := got[i-1]
				if r, p := fieldRank(d.Field), fieldRank(prev.Field); r < p || (r == p && (r < 3 || paramName(d.Field) <= paramName(prev.Field))) {
					t.Errorf("entry %d %q follows %q out of order", i, d.Field, prev.Field)
				}
			}
		}

		// Terms compared with an equal copy of themselves never drift.
		for _, terms := range []Terms{desired, observed} {
			same := terms
			same.Params = maps.Clone(terms.Params)
			if terms.Seats != nil {
				n := *terms.Seats
				same.Seats = &n
			}
			if d := Diff(terms, same); len(d) != 0 {
				t.Errorf("Diff of equal terms %+v = %+v, want none", terms, d)
			}
		}

		// An empty desired side manages nothing.
		if d := Diff(Terms{}, observed); len(d) != 0 {
			t.Errorf("Diff with nothing managed = %+v, want none", d)
		}

		// Once desired is written over the record, nothing is left to drift.
		written := observed
		written.Params = maps.Clone(observed.Params)
		if written.Params == nil && len(desired.Params) > 0 {
			written.Params = map[string]string{}
		}
		if desired.Status != "" {
			written.Status = desired.Status
		}
		if desired.Seats != nil {
			written.Seats = desired.Seats
		}
		if desired.Expiration != "" {
			written.Expiration = desired.Expiration
		}
		maps.Copy(written.Params, desired.Params)
		if d := Diff(desired, written); len(d) != 0 {
			t.Errorf("Diff after writing the desired terms = %+v, want none", d)
		}
	})
}

func FuzzValidDate(f *testing.F) {
	for _, s := range []string{"2027-02-30", "2028-02-29", "2027-02-29", "2027-06-30", "Never", "", "2027-6-30", "0000-01-01", "2027-06-30T00:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !ValidDate(s) {
			return
		}
		// A valid date is exactly YYYY-MM-DD: it formats back to itself, so string order is date
		// order (which Transition and AccessReductions rely on).
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatalf("ValidDate(%q) but time.Parse: %v", s, err)
		}
		if got := d.Format(time.DateOnly); got != s {
			t.Errorf("ValidDate(%q) but it formats as %q", s, got)
		}
		if len(s) != 10 || !slices.Equal([]byte{s[4], s[7]}, []byte("--")) {
			t.Errorf("ValidDate(%q) accepted a string not shaped YYYY-MM-DD", s)
		}
	})
}
