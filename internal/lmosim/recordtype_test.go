package lmosim

import (
	"encoding/json"
	"strings"
	"testing"
)

// recordTypeOf reads a license's RecordType.Name through SOQL; "" when the relationship is null.
func (e *testEnv) recordTypeOf(id string) string {
	e.t.Helper()
	p := e.queryRecords("SELECT Id, RecordType.Name FROM sfLma__License__c WHERE Id = '" + id + "'")
	if len(p.Records) != 1 {
		e.t.Fatalf("license %s: %d records", id, len(p.Records))
	}
	rt, _ := p.Records[0]["RecordType"].(map[string]any)
	if rt == nil {
		return ""
	}
	name, _ := rt["Name"].(string)
	return name
}

type describeRecordTypes struct {
	Fields []struct {
		Name string `json:"name"`
	} `json:"fields"`
	RecordTypeInfos []struct {
		Name          string `json:"name"`
		DeveloperName string `json:"developerName"`
		Master        bool   `json:"master"`
		Active        bool   `json:"active"`
	} `json:"recordTypeInfos"`
}

func (e *testEnv) describeLicense() describeRecordTypes {
	e.t.Helper()
	resp, body := e.call("GET", "sobjects/sfLma__License__c/describe", nil)
	if resp.StatusCode != 200 {
		e.t.Fatalf("describe: %d %s", resp.StatusCode, body)
	}
	var d describeRecordTypes
	if err := json.Unmarshal(body, &d); err != nil {
		e.t.Fatal(err)
	}
	return d
}

func (d describeRecordTypes) hasField(name string) bool {
	for _, f := range d.Fields {
		if f.Name == name {
			return true
		}
	}
	return false
}

// The LMA's License object has the record types Active, Trial, Suspended, Uninstalled and Expired
// (metadata names sfLma__Active, …; developer names without the namespace); describe lists them before Master, every license has one
// matching its status, and SOQL reads it as RecordType.Name.
func TestLicenseRecordTypes(t *testing.T) {
	e := newEnv(t, testSeed, Options{})
	d := e.describeLicense()
	var got []string
	for _, rt := range d.RecordTypeInfos {
		if !rt.Master {
			got = append(got, rt.Name+"="+rt.DeveloperName)
		}
	}
	want := "Active=Active Expired=Expired Suspended=Suspended Trial=Trial Uninstalled=Uninstalled"
	if strings.Join(got, " ") != want {
		t.Errorf("record types = %v, want %s", got, want)
	}
	if !d.hasField("RecordTypeId") {
		t.Error("describe has no RecordTypeId field")
	}
	for id, want := range map[string]string{licActive: "Active", licTrial: "Trial", licUninst: "Uninstalled", licSuspended: "Suspended"} {
		if got := e.recordTypeOf(id); got != want {
			t.Errorf("license %s RecordType.Name = %q, want %q", id, got, want)
		}
	}
	p := e.queryRecords("SELECT Name, DeveloperName FROM RecordType WHERE SobjectType = 'sfLma__License__c' ORDER BY Name")
	if len(p.Records) != 5 {
		t.Errorf("RecordType query: %d records, want 5", len(p.Records))
	}
}

// By default an API write of the status moves the record type with it, as the Modify License page
// does; with apiWritesKeepRecordType the record type stays and the page shows the old status.
func TestStatusWriteAndRecordType(t *testing.T) {
	for _, tc := range []struct {
		name, seed, want string
	}{
		{"the record type follows the status", "", "Suspended"},
		{"API writes leave the record type alone", "apiWritesKeepRecordType: true\n", "Active"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, testSeed+tc.seed, Options{})
			if resp, body := e.call("PATCH", "sobjects/"+objLicense+"/"+licActive, `{"sfLma__Status__c": "Suspended"}`); resp.StatusCode != 204 {
				t.Fatalf("status write: %d %s", resp.StatusCode, body)
			}
			if got := e.recordTypeOf(licActive); got != tc.want {
				t.Errorf("RecordType.Name after the write = %q, want %q", got, tc.want)
			}
		})
	}
}

// A seed can give a license a record type that disagrees with its status, or none at all (the
// relationship is then null).
func TestSeededRecordType(t *testing.T) {
	seed := strings.Replace(testSeed, "status: Trial, seats: 10", "status: Trial, recordType: Expired, seats: 10", 1)
	seed = strings.Replace(seed, "status: Suspended, seats: -1", "status: Suspended, recordType: none, seats: -1", 1)
	e := newEnv(t, seed, Options{})
	if got := e.recordTypeOf(licTrial); got != "Expired" {
		t.Errorf("seeded record type = %q, want Expired", got)
	}
	if got := e.recordTypeOf(licSuspended); got != "" {
		t.Errorf("license without a record type: RecordType.Name = %q, want a null relationship", got)
	}
	if _, err := ParseSeed([]byte(strings.Replace(testSeed, "status: Trial, seats: 10", "status: Trial, recordType: Paid, seats: 10", 1))); err == nil ||
		!strings.Contains(err.Error(), "licenses[1].recordType") {
		t.Errorf("an unknown record type: %v, want an error naming licenses[1].recordType", err)
	}
}

// An org whose License object has no record types has no RecordTypeId field: describe lists only
// Master and SOQL refuses RecordType.Name with INVALID_FIELD.
func TestNoRecordTypes(t *testing.T) {
	e := newEnv(t, testSeed+"recordTypes: false\n", Options{})
	d := e.describeLicense()
	if d.hasField("RecordTypeId") || len(d.RecordTypeInfos) != 1 || !d.RecordTypeInfos[0].Master {
		t.Errorf("describe without record types: field %v, infos %+v", d.hasField("RecordTypeId"), d.RecordTypeInfos)
	}
	resp, body := e.query("SELECT Id, RecordType.Name FROM sfLma__License__c")
	if resp.StatusCode != 400 || errorCode(t, body) != "INVALID_FIELD" {
		t.Errorf("RecordType.Name without record types: %d %s, want 400 INVALID_FIELD", resp.StatusCode, body)
	}
}

// sfLma__License_Type__c is a Text(255) field; its description in the LMA calls a "Read-Only"
// license one that cannot be modified. Seeded per license; absent with licenseTypeField: false.
func TestLicenseTypeField(t *testing.T) {
	seed := strings.Replace(testSeed, "status: Trial, seats: 10", "status: Trial, licenseType: Read-Only, seats: 10", 1)
	e := newEnv(t, seed, Options{})
	p := e.queryRecords("SELECT Id, sfLma__License_Type__c FROM sfLma__License__c WHERE Id = '" + licTrial + "'")
	if got := p.Records[0]["sfLma__License_Type__c"]; got != "Read-Only" {
		t.Errorf("license type = %v, want Read-Only", got)
	}
	if !e.describeLicense().hasField("sfLma__License_Type__c") {
		t.Error("describe has no sfLma__License_Type__c")
	}
	off := newEnv(t, testSeed+"licenseTypeField: false\n", Options{})
	if off.describeLicense().hasField("sfLma__License_Type__c") {
		t.Error("licenseTypeField: false still describes sfLma__License_Type__c")
	}
	if resp, body := off.query("SELECT Id, sfLma__License_Type__c FROM sfLma__License__c"); resp.StatusCode != 400 || errorCode(t, body) != "INVALID_FIELD" {
		t.Errorf("query of the absent field: %d %s, want 400 INVALID_FIELD", resp.StatusCode, body)
	}
}

// A write to a license the LMA treats as not editable (AppExchange Checkout owns it) is answered as
// a success but changes nothing: Checkout keeps the record in step with the subscription, the worst
// plausible case because nothing tells the writer. With strictLicenseRules it is refused.
func TestNotEditableLicenseWrite(t *testing.T) {
	seed := strings.Replace(testSeed, "status: Active, seats: 50", "status: Active, licenseType: Read-Only, seats: 50", 1)
	e := newEnv(t, seed, Options{})
	if resp, body := e.call("PATCH", "sobjects/"+objLicense+"/"+licActive, `{"sfLma__Seats__c": 7}`); resp.StatusCode != 204 {
		t.Fatalf("write: %d %s, want 204", resp.StatusCode, body)
	}
	p := e.queryRecords("SELECT sfLma__Seats__c FROM sfLma__License__c WHERE Id = '" + licActive + "'")
	if got := p.Records[0]["sfLma__Seats__c"]; got != 50.0 {
		t.Errorf("seats after the write = %v, want 50 (unchanged)", got)
	}
	strict := newEnv(t, seed+"strictLicenseRules: true\n", Options{})
	resp, body := strict.call("PATCH", "sobjects/"+objLicense+"/"+licActive, `{"sfLma__Seats__c": 7}`)
	if resp.StatusCode != 400 || errorCode(t, body) != "FIELD_CUSTOM_VALIDATION_EXCEPTION" {
		t.Errorf("strict write: %d %s, want 400 FIELD_CUSTOM_VALIDATION_EXCEPTION", resp.StatusCode, body)
	}
}

// Salesforce's own changes to a license, made outside the REST API: AppExchange Checkout taking a
// license over (its License Type) and the LMA moving a record type (to Expired). They move the
// SystemModstamp so that a poll sees them, and a bad record type is refused naming the field.
func TestAdminSetsLicenseTypeAndRecordType(t *testing.T) {
	e := newEnv(t, testSeed, Options{})
	before, _ := e.srv.GetLicense(licActive)
	resp, body := e.admin("PATCH", "licenses/"+licActive, map[string]any{"licenseType": "Read-Only", "recordType": "Expired"})
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"licenseType":"Read-Only"`) || !strings.Contains(string(body), `"recordType":"Expired"`) {
		t.Fatalf("admin update: %d %s", resp.StatusCode, body)
	}
	if got := e.recordTypeOf(licActive); got != "Expired" {
		t.Errorf("RecordType.Name = %q, want Expired", got)
	}
	after, _ := e.srv.GetLicense(licActive)
	if after.SystemModstamp <= before.SystemModstamp {
		t.Errorf("SystemModstamp %s did not move past %s", after.SystemModstamp, before.SystemModstamp)
	}
	resp, body = e.admin("PATCH", "licenses/"+licActive, map[string]any{"recordType": "Paid"})
	if resp.StatusCode != 400 || !strings.Contains(string(body), "recordType") {
		t.Errorf("a bad record type: %d %s, want 400 naming recordType", resp.StatusCode, body)
	}
}
