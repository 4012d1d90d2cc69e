package lmosim

import (
	"encoding/json"
	"strings"
	"testing"
)

// A seeded license names its customer by account (a converted lead) or by its lead's company; SOQL
// reads them through the lookups as sfLma__Account__r.Name and sfLma__Lead__r.Company, and the
// subscriber org's status and trial expiration as text.
func TestCustomerAndOrgState(t *testing.T) {
	seed := strings.Replace(testSeed, "status: Active, seats: 50", "status: Active, account: Globex Corporation, orgStatus: ACTIVE, seats: 50", 1)
	seed = strings.Replace(seed, "status: Trial, seats: 10", "status: Trial, lead: {company: Initech, name: Peter Gibbons, email: peter@initech.example}, orgStatus: TRIAL, orgTrialExpiration: \"2026-12-24\", seats: 10", 1)
	seed = strings.Replace(seed, "status: Suspended, seats: -1", "status: Suspended, orgStatus: DELETED, seats: -1", 1)
	e := newEnv(t, seed, Options{})
	p := e.queryRecords("SELECT Id, sfLma__Account__r.Name, sfLma__Lead__r.Company, sfLma__Org_Status__c, sfLma__Trial_Expiration_Date__c FROM sfLma__License__c ORDER BY Id")
	got := map[string]string{}
	for _, r := range p.Records {
		b, _ := json.Marshal(r)
		var l struct {
			ID      string `json:"Id"`
			Account *struct {
				Name string `json:"Name"`
			} `json:"sfLma__Account__r"`
			Lead *struct {
				Company string `json:"Company"`
			} `json:"sfLma__Lead__r"`
			OrgStatus string `json:"sfLma__Org_Status__c"`
			OrgTrial  string `json:"sfLma__Trial_Expiration_Date__c"`
		}
		if err := json.Unmarshal(b, &l); err != nil {
			t.Fatal(err)
		}
		account, company := "-", "-"
		if l.Account != nil {
			account = l.Account.Name
		}
		if l.Lead != nil {
			company = l.Lead.Company
		}
		got[l.ID] = account + "|" + company + "|" + l.OrgStatus + "|" + l.OrgTrial
	}
	for id, want := range map[string]string{
		licActive:    "Globex Corporation|-|ACTIVE|",
		licTrial:     "-|Initech|TRIAL|2026-12-24",
		licSuspended: "-|-|DELETED|",
	} {
		if got[id] != want {
			t.Errorf("license %s = %q, want %q", id, got[id], want)
		}
	}
	// The lead is a person: its name and email are there (as in Salesforce), to prove the operator
	// does not read them.
	lp := e.queryRecords("SELECT Name, Email, Company FROM Lead WHERE Company = 'Initech'")
	if len(lp.Records) != 1 || lp.Records[0]["Name"] != "Peter Gibbons" {
		t.Errorf("Lead query = %v", lp.Records)
	}
	// Salesforce changes the org status outside the REST API; the admin API stands in for it.
	resp, body := e.admin("PATCH", "licenses/"+licActive, map[string]any{"orgStatus": "PENDING_DELETE"})
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"orgStatus":"PENDING_DELETE"`) || !strings.Contains(string(body), `"customer":"Globex Corporation"`) {
		t.Errorf("admin orgStatus update: %d %s", resp.StatusCode, body)
	}
	if resp, body := e.admin("PATCH", "licenses/"+licActive, map[string]any{"orgTrialExpiration": "a very long text value"}); resp.StatusCode != 400 || !strings.Contains(string(body), "orgTrialExpiration") {
		t.Errorf("an org trial expiration longer than the field: %d %s, want 400 naming orgTrialExpiration", resp.StatusCode, body)
	}
}

// An LMA whose License object lacks the org status fields (or a user who cannot read them) has
// none in describe, and SOQL selecting them is INVALID_FIELD.
func TestNoOrgStatusFields(t *testing.T) {
	e := newEnv(t, testSeed+"orgStatusFields: false\n", Options{})
	d := e.describeLicense()
	if d.hasField("sfLma__Org_Status__c") || d.hasField("sfLma__Trial_Expiration_Date__c") {
		t.Error("describe lists the org status fields")
	}
	if !d.hasField("sfLma__Account__c") || !d.hasField("sfLma__Lead__c") {
		t.Error("describe lacks the account and lead lookups")
	}
	resp, body := e.query("SELECT Id, sfLma__Org_Status__c FROM sfLma__License__c")
	if resp.StatusCode != 400 || errorCode(t, body) != "INVALID_FIELD" {
		t.Errorf("selecting an absent org status: %d %s", resp.StatusCode, body)
	}
}

// Bad customer and org state seeds are refused naming the field.
func TestCustomerSeedErrors(t *testing.T) {
	for _, tc := range []struct{ replace, field string }{
		{"status: Trial, orgTrialExpiration: \"" + strings.Repeat("9", 16) + "\", seats: 10", "licenses[1].orgTrialExpiration"},
		{"status: Trial, orgStatus: \"" + strings.Repeat("X", 21) + "\", seats: 10", "licenses[1].orgStatus"},
		{"status: Trial, account: \"" + strings.Repeat("a", 256) + "\", seats: 10", "licenses[1].account"},
		{"status: Trial, lead: {company: \"\"}, seats: 10", "licenses[1].lead.company"},
	} {
		_, err := ParseSeed([]byte(strings.Replace(testSeed, "status: Trial, seats: 10", tc.replace, 1)))
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: %v, want an error naming %s", tc.replace, err, tc.field)
		}
	}
}
