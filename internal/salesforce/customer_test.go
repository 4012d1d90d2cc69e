package salesforce

import (
	"encoding/json"
	"strings"
	"testing"
)

// The customer behind a license is its account's name, else the company of the lead the install
// created; a lead's or contact's person is never read.
func TestLicenseCustomer(t *testing.T) {
	for _, tc := range []struct {
		name, json, want string
	}{
		{"an account", `{"Id":"a0N000000000001AAA","sfLma__Account__r":{"attributes":{"type":"Account"},"Name":"Globex Corporation"},"sfLma__Lead__r":{"Company":"Globex"}}`, "Globex Corporation"},
		{"no account, a lead with a company", `{"Id":"a0N000000000001AAA","sfLma__Account__r":null,"sfLma__Lead__r":{"attributes":{"type":"Lead"},"Company":"Initech"}}`, "Initech"},
		{"a blank account name falls back to the lead", `{"Id":"a0N000000000001AAA","sfLma__Account__r":{"Name":"  "},"sfLma__Lead__r":{"Company":" Initech "}}`, "Initech"},
		{"neither", `{"Id":"a0N000000000001AAA","sfLma__Account__r":null,"sfLma__Lead__r":null}`, ""},
		{"not selected", `{"Id":"a0N000000000001AAA"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l License
			if err := json.Unmarshal([]byte(tc.json), &l); err != nil {
				t.Fatal(err)
			}
			if got := l.Customer(); got != tc.want {
				t.Errorf("Customer() = %q, want %q", got, tc.want)
			}
		})
	}
}

// sfLma__Org_Status__c is a text formula: the LMA's data holds upper-case values (ACTIVE, TRIAL,
// FREE) while the License Object Fields page names them Active, Free or Trial. A deleted org or
// one pending deletion is gone, in whichever spelling; every other value, known or not, is not.
func TestLicenseSubscriberOrgGone(t *testing.T) {
	for _, tc := range []struct {
		status string
		gone   bool
	}{
		{"", false},
		{"ACTIVE", false},
		{"Active", false},
		{"TRIAL", false},
		{"FREE", false},
		{"SUSPENDED", false},
		{"INACTIVE", false},
		{"something new", false},
		{"DELETED", true},
		{"Deleted", true},
		{"PENDING_DELETE", true},
		{"Pending Delete", true},
		{"pending-delete", true},
	} {
		l := License{ID: "a0N000000000001AAA", SubscriberOrgID: "00D5g000004XyZ1", OrgStatus: tc.status}
		got := l.SubscriberOrgGone()
		if (got != "") != tc.gone {
			t.Errorf("org status %q: SubscriberOrgGone() = %q, want gone %v", tc.status, got, tc.gone)
		}
		if tc.gone && (!strings.Contains(got, FieldOrgStatus) || !strings.Contains(got, tc.status)) {
			t.Errorf("org status %q: %q does not name the field and the value", tc.status, got)
		}
	}
}

// The org's trial expiration (sfLma__Trial_Expiration_Date__c) is text: a date the operator can
// read is returned, anything else is not (and is never mistaken for a date).
func TestLicenseOrgTrialExpiration(t *testing.T) {
	for _, tc := range []struct {
		text, want string
	}{
		{"", ""},
		{"2026-12-31", "2026-12-31"},
		{" 2026-12-31 ", "2026-12-31"},
		{"2026-12-31T00:00:00.000+0000", "2026-12-31"},
		{"12/31/2026", "2026-12-31"},
		{"2/3/2027", "2027-02-03"},
		{"2026-02-30", ""},
		{"soon", ""},
	} {
		l := License{OrgTrialExpiration: tc.text}
		d, ok := l.OrgTrialExpirationDate()
		got := ""
		if ok {
			got = d.String()
		}
		if got != tc.want {
			t.Errorf("%q: OrgTrialExpirationDate() = %q (%v), want %q", tc.text, got, ok, tc.want)
		}
	}
}

// The customer lookups and the org status fields are optional: an org's describe (or the
// integration user's field access) may lack them, and selecting an absent field fails the query.
func TestLicenseFieldsForCustomerAndOrgState(t *testing.T) {
	all := LicenseFieldsFor(AllLicenseFields)
	for _, f := range []string{"sfLma__Account__r.Name", "sfLma__Lead__r.Company", FieldOrgStatus, FieldOrgTrialExpiration} {
		if !strings.Contains(all, f) {
			t.Errorf("all fields %q lack %s", all, f)
		}
		if strings.Contains(LicenseFieldsFor(LicenseFieldSet{}), f) {
			t.Errorf("the base fields select %s", f)
		}
	}
	for _, f := range []string{"sfLma__Lead__r.Name", "Email", "sfLma__Contact__r"} {
		if strings.Contains(all, f) {
			t.Errorf("the fields %q select a person's data (%s)", all, f)
		}
	}
	d := SObjectDescribe{Fields: []FieldDescribe{{Name: "Id"}, {Name: FieldAccount}, {Name: FieldOrgStatus}}}
	if got := LicenseFieldSetOf(d); got != (LicenseFieldSet{Account: true, OrgStatus: true}) {
		t.Errorf("field set of a describe with the account lookup and org status only = %+v", got)
	}
}
