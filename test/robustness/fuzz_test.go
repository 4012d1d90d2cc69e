package robustness_test

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/util/intstr"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/drift"
	"github.com/lmo-operator/lmo-operator/internal/licterms"
	"github.com/lmo-operator/lmo-operator/internal/salesforce"
)

// Fuzz tests that already exist, and are not repeated here:
//   - drift computation: internal/drift FuzzDiff; seats and date text: FuzzSeatsTextReadsBack (internal/licterms), FuzzValidDate;
//   - response decoding: internal/salesforce FuzzDecodeQueryPage, FuzzDecodeAPIError,
//     FuzzDecodeSaveResults; lmosim's SOQL parser: internal/lmosim FuzzParseSOQL.
// What had none: the controller's own spec parsing, a License spec as the API server hands it over
// (JSON, seats an int-or-string) mapped to the terms drift compares (licterms.Desired, used by the
// License controller and lmoctl plan). FuzzDesiredTerms covers it.

// FuzzDesiredTerms decodes arbitrary License specs the way the controller receives them and checks
// that the terms it manages are exactly what the spec says.
func FuzzDesiredTerms(f *testing.F) {
	f.Add(`60`, "2027-06-30", "Active", "acme__MaxProjects", uint8(2), int64(50), false, "")
	f.Add(`"SiteLicense"`, "Never", "Trial", "acme__Reports", uint8(1), int64(0), true, "")
	f.Add(`"60"`, "", "", "acme__Until", uint8(3), int64(0), false, "2027-02-29")
	f.Add(``, "2027-02-30", "Suspended", "", uint8(0), int64(-1), false, "")
	f.Add(`99000000`, "0000-01-01", "Uninstalled", "x", uint8(2), int64(-9223372036854775808), false, "")
	f.Add(`2147483648`, "", "", "", uint8(0), int64(0), false, "")
	f.Add(`-1`, "", "", "", uint8(0), int64(0), false, "")
	f.Add(`1.5`, "", "", "", uint8(0), int64(0), false, "")
	f.Add(`null`, "", "", "", uint8(0), int64(0), false, "")
	f.Fuzz(func(t *testing.T, seatsJSON, expiration, status, paramName string, paramKind uint8, paramInt int64, paramBool bool, paramDate string) {
		spec := map[string]any{"packageRef": map[string]any{"name": "acme-projects"}, "subscriberOrgID": "00D5g000004XyZ1AAA"}
		if seatsJSON != "" {
			if !json.Valid([]byte(seatsJSON)) {
				return
			}
			spec["seats"] = json.RawMessage(seatsJSON)
		}
		if expiration != "" {
			spec["expiration"] = expiration
		}
		if status != "" {
			spec["status"] = status
		}
		param := map[string]any{"name": paramName}
		switch paramKind % 4 {
		case 1:
			param["boolean"] = paramBool
		case 2:
			param["integer"] = paramInt
		case 3:
			param["date"] = paramDate
		}
		if paramName != "" {
			spec["featureParameters"] = []any{param}
		}
		raw, err := json.Marshal(spec)
		if err != nil {
			t.Fatal(err)
		}
		var s licensingv1alpha1.LicenseSpec
		if err := json.Unmarshal(raw, &s); err != nil {
			return // the API server refuses such a body too
		}
		d := licterms.Desired(s)

		// Status and expiration are passed on verbatim, and only when set.
		if d.Status != string(s.Status) || d.Expiration != s.Expiration {
			t.Fatalf("Desired(%s): status %q expiration %q, want %q %q", raw, d.Status, d.Expiration, s.Status, s.Expiration)
		}

		// Seats: unmanaged when absent; an integer as is; "SiteLicense" is -1. Within what admission
		// lets through (1..99,000,000 or "SiteLicense"), the text the License shows parses back to
		// the same number.
		switch {
		case s.Seats == nil:
			if d.Seats != nil {
				t.Fatalf("Desired(%s) manages seats %d the spec leaves out", raw, *d.Seats)
			}
		case d.Seats == nil:
			t.Fatalf("Desired(%s) leaves seats %v unmanaged", raw, s.Seats)
		case s.Seats.Type == intstr.Int:
			if *d.Seats != int64(s.Seats.IntVal) {
				t.Fatalf("Desired(%s) seats %d, want %d", raw, *d.Seats, s.Seats.IntVal)
			}
			if s.Seats.IntVal >= 1 && s.Seats.IntVal <= 99000000 {
				text := drift.SeatsText(d.Seats)
				if text != strconv.Itoa(int(s.Seats.IntVal)) {
					t.Fatalf("seats %d show as %q", s.Seats.IntVal, text)
				}
				if back := licterms.Seats(intstr.Parse(text)); back != *d.Seats {
					t.Fatalf("seats text %q reads back as %d", text, back)
				}
			}
		case s.Seats.StrVal == drift.SiteLicense:
			if *d.Seats != drift.SiteLicenseSeats || drift.SeatsText(d.Seats) != drift.SiteLicense {
				t.Fatalf("Desired(%s) seats %d (%q), want a site license", raw, *d.Seats, drift.SeatsText(d.Seats))
			}
		}

		// Feature parameters: a value set is managed with its text and its data type; none set is
		// not a managed value.
		kinds := licterms.ParamKinds(s)
		for _, p := range s.FeatureParameters {
			text, managed := d.Params[p.Name]
			if !managed {
				t.Fatalf("Desired(%s) drops parameter %q", raw, p.Name)
			}
			if text != licterms.ParamText(p) {
				t.Fatalf("parameter %q: %q, ParamText %q", p.Name, text, licterms.ParamText(p))
			}
			switch {
			case p.Boolean != nil:
				if kinds[p.Name] != salesforce.DataTypeBoolean || text != strconv.FormatBool(*p.Boolean) {
					t.Fatalf("boolean parameter %q: kind %q text %q", p.Name, kinds[p.Name], text)
				}
			case p.Integer != nil:
				n, err := strconv.ParseInt(text, 10, 64)
				if kinds[p.Name] != salesforce.DataTypeInteger || err != nil || n != *p.Integer {
					t.Fatalf("integer parameter %q: kind %q text %q", p.Name, kinds[p.Name], text)
				}
			case p.Date != nil:
				if kinds[p.Name] != salesforce.DataTypeDate || text != *p.Date {
					t.Fatalf("date parameter %q: kind %q text %q", p.Name, kinds[p.Name], text)
				}
			default:
				if _, ok := kinds[p.Name]; ok || text != "" {
					t.Fatalf("parameter %q with no value: kind %q text %q", p.Name, kinds[p.Name], text)
				}
			}
		}

		// The terms say they manage something exactly when the spec sets something, match
		// themselves, and survive the API server's round trip of the spec.
		managed := s.Status != "" || s.Seats != nil || s.Expiration != "" || len(s.FeatureParameters) > 0
		if licterms.HasManagedFields(d) != managed {
			t.Fatalf("HasManagedFields(Desired(%s)) = %v, want %v", raw, !managed, managed)
		}
		if diff := drift.Diff(d, d); len(diff) != 0 {
			t.Fatalf("Desired(%s) differs from itself: %+v", raw, diff)
		}
		again, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var s2 licensingv1alpha1.LicenseSpec
		if err := json.Unmarshal(again, &s2); err != nil {
			t.Fatalf("the spec %s does not decode after a round trip: %v", again, err)
		}
		if diff := cmp.Diff(d, licterms.Desired(s2)); diff != "" {
			t.Fatalf("the terms of %s change after a round trip (-before +after):\n%s", raw, diff)
		}
	})
}
