package salesforce

import (
	"encoding/json"
	"strings"
	"testing"
)

// A License record carries its record type as a parent relationship, null when the record has none,
// and sfLma__License_Type__c as text.
func TestLicenseRecordTypeAndLicenseTypeDecode(t *testing.T) {
	for _, tc := range []struct {
		name, json, recordType, licenseType string
	}{
		{"a record type and an empty license type",
			`{"Id":"a0N000000000001AAA","RecordType":{"attributes":{"type":"RecordType"},"Name":"Active"},"sfLma__License_Type__c":null}`, "Active", ""},
		{"a null record type relationship", `{"Id":"a0N000000000001AAA","RecordType":null,"sfLma__License_Type__c":"Read-Only"}`, "", "Read-Only"},
		{"neither field selected", `{"Id":"a0N000000000001AAA"}`, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l License
			if err := json.Unmarshal([]byte(tc.json), &l); err != nil {
				t.Fatal(err)
			}
			if l.RecordTypeName() != tc.recordType || l.LicenseType != tc.licenseType {
				t.Errorf("record type %q, license type %q; want %q, %q", l.RecordTypeName(), l.LicenseType, tc.recordType, tc.licenseType)
			}
		})
	}
}

// Only an empty or Editable license type leaves a license editable: the LMA's field description
// gives Read-Only as a license that cannot be modified, and no list of values is documented, so any
// other value is read as not editable (the safe reading) and named in the reason.
func TestLicenseNotEditable(t *testing.T) {
	for _, tc := range []struct {
		licenseType string
		editable    bool
	}{
		{"", true},
		{"Editable", true},
		{"editable", true},
		{"Read-Only", false},
		{"Uneditable", false},
		{"Checkout", false},
		{"something new", false},
	} {
		l := License{ID: "a0N000000000001AAA", LicenseType: tc.licenseType}
		got := l.NotEditable()
		if (got == "") != tc.editable {
			t.Errorf("license type %q: NotEditable() = %q, want editable %v", tc.licenseType, got, tc.editable)
		}
		if !tc.editable && (!strings.Contains(got, FieldLicenseType) || !strings.Contains(got, tc.licenseType)) {
			t.Errorf("license type %q: reason %q does not name the field and the value", tc.licenseType, got)
		}
	}
}

// The License field list leaves out the optional fields an org's describe lacks: RecordType.Name
// without record types (no RecordTypeId), sfLma__License_Type__c when the LMA lacks it.
func TestLicenseFieldsFor(t *testing.T) {
	all := LicenseFieldsFor(AllLicenseFields)
	if all != LicenseFields || !strings.Contains(all, "RecordType.Name") || !strings.Contains(all, FieldLicenseType) {
		t.Errorf("all fields = %q, want LicenseFields with RecordType.Name and %s", all, FieldLicenseType)
	}
	none := LicenseFieldsFor(LicenseFieldSet{})
	if strings.Contains(none, "RecordType") || strings.Contains(none, FieldLicenseType) || !strings.Contains(none, FieldStatus) {
		t.Errorf("without the optional fields = %q", none)
	}
	d := SObjectDescribe{Fields: []FieldDescribe{{Name: "Id"}, {Name: "RecordTypeId"}}}
	if got := LicenseFieldSetOf(d); got != (LicenseFieldSet{RecordType: true}) {
		t.Errorf("field set of a describe with RecordTypeId only = %+v", got)
	}
}
