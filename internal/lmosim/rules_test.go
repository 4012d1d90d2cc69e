package lmosim

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// valueID finds the value record of a feature parameter of a license.
func (e *testEnv) valueID(obj, license, fullName string) string {
	e.t.Helper()
	p := e.queryRecords(fmt.Sprintf("SELECT Id FROM %s WHERE sfFma__License__c = '%s' AND sfFma__FeatureParameter__r.sfFma__FullName__c = '%s'", obj, license, fullName))
	if len(p.Records) != 1 {
		e.t.Fatalf("value of %s for %s: %+v", fullName, license, p)
	}
	return p.Records[0]["Id"].(string)
}

func TestLMARules(t *testing.T) {
	tests := []struct {
		name      string
		obj, id   string // id "" = the value record named by param
		param     string
		body      string
		wantCode  string // "" = 204
		wantField string
		// strict runs the case with the Modify License page's rules (Seed.StrictLicenseRules).
		strict bool
	}{
		{name: "seats, status and expiration are writable", obj: objLicense, id: licActive, body: `{"sfLma__Seats__c": 75, "sfLma__Status__c": "Suspended", "sfLma__Expiration__c": null}`},
		{name: "a site license is -1 seats", obj: objLicense, id: licActive, body: `{"sfLma__Seats__c": -1}`},
		{name: "99,000,000 seats is the maximum", obj: objLicense, id: licActive, body: `{"sfLma__Seats__c": 99000000}`},
		{name: "more seats than the maximum are out of range", obj: objLicense, id: licActive, body: `{"sfLma__Seats__c": 99000001}`, wantCode: "NUMBER_OUTSIDE_VALID_RANGE", wantField: fSeats},
		{name: "zero seats are out of range", obj: objLicense, id: licActive, body: `{"sfLma__Seats__c": 0}`, wantCode: "NUMBER_OUTSIDE_VALID_RANGE", wantField: fSeats},
		{name: "-2 seats are out of range", obj: objLicense, id: licActive, body: `{"sfLma__Seats__c": -2}`, wantCode: "NUMBER_OUTSIDE_VALID_RANGE", wantField: fSeats},
		{name: "a read-only field can not be written", obj: objLicense, id: licActive, body: `{"sfLma__Used_Licenses__c": 3}`, wantCode: "INVALID_FIELD_FOR_INSERT_UPDATE", wantField: "sfLma__Used_Licenses__c"},
		{name: "an unknown field is INVALID_FIELD", obj: objLicense, id: licActive, body: `{"Nope__c": 3}`, wantCode: "INVALID_FIELD", wantField: "Nope__c"},
		{name: "an uninstalled license refuses edits", obj: objLicense, id: licUninst, body: `{"sfLma__Seats__c": 6}`, wantCode: "FIELD_CUSTOM_VALIDATION_EXCEPTION", strict: true},
		{name: "Uninstalled can not be written", obj: objLicense, id: licActive, body: `{"sfLma__Status__c": "Uninstalled"}`, wantCode: "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", wantField: fStatus, strict: true},
		{name: "an unknown status is refused", obj: objLicense, id: licActive, body: `{"sfLma__Status__c": "Paused"}`, wantCode: "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", wantField: fStatus, strict: true},
		{name: "Active can not go back to Trial", obj: objLicense, id: licActive, body: `{"sfLma__Status__c": "Trial", "sfLma__Expiration__c": "2026-12-01"}`, wantCode: "FIELD_CUSTOM_VALIDATION_EXCEPTION", wantField: fStatus, strict: true},
		{name: "a trial may last 90 days", obj: objLicense, id: licTrial, body: `{"sfLma__Expiration__c": "2027-02-23"}`},
		{name: "a trial may not last 91 days", obj: objLicense, id: licTrial, body: `{"sfLma__Expiration__c": "2027-02-24"}`, wantCode: "FIELD_CUSTOM_VALIDATION_EXCEPTION", wantField: fExpiration, strict: true},
		{name: "a trial must expire", obj: objLicense, id: licTrial, body: `{"sfLma__Expiration__c": null}`, wantCode: "FIELD_CUSTOM_VALIDATION_EXCEPTION", wantField: fExpiration, strict: true},
		// The API's default here is the worst plausible case: the page's rules are not enforced.
		{name: "by default an uninstalled license accepts an API edit", obj: objLicense, id: licUninst, body: `{"sfLma__Seats__c": 6}`},
		{name: "by default an Active license may be set to Trial", obj: objLicense, id: licActive, body: `{"sfLma__Status__c": "Trial", "sfLma__Expiration__c": "2026-12-01"}`},
		{name: "by default a trial may last 91 days", obj: objLicense, id: licTrial, body: `{"sfLma__Expiration__c": "2027-02-24"}`},
		{name: "by default the unrestricted Status picklist takes any text", obj: objLicense, id: licActive, body: `{"sfLma__Status__c": "Paused"}`},
		{name: "a trial may become Active without an expiration", obj: objLicense, id: licTrial, body: `{"sfLma__Status__c": "Active", "sfLma__Expiration__c": null}`},
		{name: "a string into seats is a parser error", obj: objLicense, id: licActive, body: `{"sfLma__Seats__c": "ten"}`, wantCode: "JSON_PARSER_ERROR", wantField: fSeats},
		{name: "a bad date is a parser error", obj: objLicense, id: licActive, body: `{"sfLma__Expiration__c": "30/06/2027"}`, wantCode: "JSON_PARSER_ERROR", wantField: fExpiration},
		{name: "an integer value is writable", obj: objIntValue, param: "acme__MaxProjects", body: `{"sfFma__Value__c": 50}`},
		{name: "a string into an integer value is a parser error", obj: objIntValue, param: "acme__MaxProjects", body: `{"sfFma__Value__c": "50"}`, wantCode: "JSON_PARSER_ERROR", wantField: fValue},
		{name: "a boolean value is writable", obj: objBoolValue, param: "acme__AdvancedReporting", body: `{"sfFma__Value__c": false}`},
		{name: "a number into a boolean value is a parser error", obj: objBoolValue, param: "acme__AdvancedReporting", body: `{"sfFma__Value__c": 1}`, wantCode: "JSON_PARSER_ERROR", wantField: fValue},
		{name: "a date value is writable", obj: objDateValue, param: "acme__SupportUntil", body: `{"sfFma__Value__c": "2027-06-30"}`},
		{name: "Subscriber-to-LMO values are read-only", obj: objIntValue, param: "acme__ActiveUsers", body: `{"sfFma__Value__c": 5}`, wantCode: "INSUFFICIENT_ACCESS_OR_READONLY"},
		{name: "a value record's lookups are read-only", obj: objIntValue, param: "acme__MaxProjects", body: `{"sfFma__License__c": "a0N000000000002AAA"}`, wantCode: "INVALID_FIELD_FOR_INSERT_UPDATE", wantField: "sfFma__License__c"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seed := testSeed
			if tc.strict {
				seed += "strictLicenseRules: true\n"
			}
			e := newEnv(t, seed, Options{})
			id := tc.id
			if id == "" {
				id = e.valueID(tc.obj, licActive, tc.param)
			}
			resp, body := e.call("PATCH", "sobjects/"+tc.obj+"/"+id, tc.body)
			if tc.wantCode == "" {
				if resp.StatusCode != 204 {
					t.Fatalf("got %d %s, want 204", resp.StatusCode, body)
				}
				return
			}
			var errs []struct {
				ErrorCode string   `json:"errorCode"`
				Fields    []string `json:"fields"`
			}
			if err := json.Unmarshal(body, &errs); err != nil || resp.StatusCode != 400 || len(errs) != 1 {
				t.Fatalf("got %d %s, want 400 %s", resp.StatusCode, body, tc.wantCode)
			}
			var wantFields []string
			if tc.wantField != "" {
				wantFields = []string{tc.wantField}
			}
			if diff := cmp.Diff(tc.wantCode, errs[0].ErrorCode); diff != "" {
				t.Errorf("code (-want +got)\n%s\n%s", diff, body)
			}
			if diff := cmp.Diff(wantFields, errs[0].Fields, cmpEmptyNil); diff != "" {
				t.Errorf("fields (-want +got)\n%s", diff)
			}
		})
	}
}

var cmpEmptyNil = cmp.FilterValues(func(a, b []string) bool { return len(a) == 0 && len(b) == 0 }, cmp.Ignore())

func TestUninstalledValuesRefuseEdits(t *testing.T) {
	e := newEnv(t, testSeed+"strictLicenseRules: true\n", Options{})
	id := e.valueID(objIntValue, licUninst, "acme__MaxProjects")
	resp, body := e.call("PATCH", "sobjects/"+objIntValue+"/"+id, `{"sfFma__Value__c": 5}`)
	if resp.StatusCode != 400 || errorCode(t, body) != "FIELD_CUSTOM_VALIDATION_EXCEPTION" {
		t.Errorf("got %d %s", resp.StatusCode, body)
	}
}

func TestSuspendedOnceActiveCanNotBecomeTrial(t *testing.T) {
	e := newEnv(t, testSeed+"strictLicenseRules: true\n", Options{})
	if resp, body := e.call("PATCH", "sobjects/"+objLicense+"/"+licActive, `{"sfLma__Status__c": "Suspended"}`); resp.StatusCode != 204 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	resp, body := e.call("PATCH", "sobjects/"+objLicense+"/"+licActive, `{"sfLma__Status__c": "Trial", "sfLma__Expiration__c": "2026-12-01"}`)
	if resp.StatusCode != 400 || errorCode(t, body) != "FIELD_CUSTOM_VALIDATION_EXCEPTION" {
		t.Errorf("got %d %s", resp.StatusCode, body)
	}
}

func TestCollectionsAllOrNoneAndLimits(t *testing.T) {
	e := newEnv(t, testSeed, Options{})
	resp, body := e.call("PATCH", "composite/sobjects", map[string]any{"allOrNone": true, "records": []any{
		map[string]any{"attributes": map[string]any{"type": objLicense}, "id": licActive, "sfLma__Seats__c": 99},
		map[string]any{"attributes": map[string]any{"type": objLicense}, "id": licTrial, "sfLma__Seats__c": 0},
		map[string]any{"attributes": map[string]any{"type": objIntValue}, "id": e.valueID(objIntValue, licActive, "acme__MaxProjects"), "sfFma__Value__c": 7},
	}})
	var res []collectionResult
	if err := json.Unmarshal(body, &res); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var codes []string
	for _, r := range res {
		codes = append(codes, r.Errors[0].StatusCode)
	}
	if diff := cmp.Diff([]string{"ALL_OR_NONE_OPERATION_ROLLED_BACK", "NUMBER_OUTSIDE_VALID_RANGE", "ALL_OR_NONE_OPERATION_ROLLED_BACK"}, codes); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	if l, _ := e.srv.GetLicense(licActive); l.Seats != 50 || l.FeatureParameters["acme__MaxProjects"] != 20.0 {
		t.Errorf("allOrNone did not roll back: %+v", l)
	}
	if p := e.queryRecords("SELECT Id FROM sfLma__License__History WHERE Field != 'created'"); p.TotalSize != 0 {
		t.Errorf("rolled back history rows remain: %+v", p)
	}

	var many []any
	for i := 0; i < 201; i++ {
		many = append(many, map[string]any{"id": licActive, "sfLma__Seats__c": 5})
	}
	resp, body = e.call("PATCH", "composite/sobjects", map[string]any{"records": many})
	if resp.StatusCode != 400 || errorCode(t, body) != "EXCEEDED_ID_LIMIT" {
		t.Errorf("201 records: %d %s", resp.StatusCode, body)
	}
	if got := e.srv.Stats().RecordsWritten; got != 0 {
		t.Errorf("recordsWritten = %d, want 0", got)
	}
}
