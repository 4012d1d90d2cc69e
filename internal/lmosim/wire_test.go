package lmosim

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Wire-format tests pin lmosim's JSON to the shapes of SALESFORCE-WIRE.md.

func TestWireQueryPage(t *testing.T) {
	e := newEnv(t, testSeed, Options{})
	resp, body := e.query("SELECT Id, sfLma__Seats__c, sfLma__Expiration__c, sfLma__Status__c, sfLma__Subscriber_Org_Is_Sandbox__c, SystemModstamp, sfLma__Package__r.sfLma__Package_ID__c, sfLma__Account__c FROM sfLma__License__c WHERE Id IN ('a0N000000000001AAA', 'a0N000000000003AAA')")
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	want := `{"totalSize":2,"done":true,"records":[` +
		`{"attributes":{"type":"sfLma__License__c","url":"/services/data/v62.0/sobjects/sfLma__License__c/a0N000000000001AAA"},"Id":"a0N000000000001AAA","sfLma__Seats__c":50.0,"sfLma__Expiration__c":"2027-06-30","sfLma__Status__c":"Active","sfLma__Subscriber_Org_Is_Sandbox__c":false,"SystemModstamp":"2026-11-24T12:00:00.000+0000","sfLma__Package__r":{"attributes":{"type":"sfLma__Package__c","url":"/services/data/v62.0/sobjects/sfLma__Package__c/a0P000000000001EAA"},"sfLma__Package_ID__c":"033000000000001AAA"},"sfLma__Account__c":null},` +
		`{"attributes":{"type":"sfLma__License__c","url":"/services/data/v62.0/sobjects/sfLma__License__c/a0N000000000003AAA"},"Id":"a0N000000000003AAA","sfLma__Seats__c":5.0,"sfLma__Expiration__c":null,"sfLma__Status__c":"Uninstalled","sfLma__Subscriber_Org_Is_Sandbox__c":false,"SystemModstamp":"2026-11-24T12:00:00.000+0000","sfLma__Package__r":{"attributes":{"type":"sfLma__Package__c","url":"/services/data/v62.0/sobjects/sfLma__Package__c/a0P000000000001EAA"},"sfLma__Package_ID__c":"033000000000001AAA"},"sfLma__Account__c":null}]}`
	if diff := cmp.Diff(want, string(body)); diff != "" {
		t.Errorf("query page (-want +got)\n%s", diff)
	}
	if got := resp.Header.Get("Sforce-Limit-Info"); !regexp.MustCompile(`^api-usage=\d+/1000$`).MatchString(got) {
		t.Errorf("Sforce-Limit-Info = %q", got)
	}
}

func TestWireNullParentAndNextRecordsURL(t *testing.T) {
	e := newEnv(t, testSeed, Options{})
	// History rows of a missing parent have a null relationship.
	e.srv.mu.Lock()
	e.srv.st.addHistory("a0N00000000zzzzAAA", "sfLma__Seats__c", num(1), num(2), e.srv.systemUserID(), 1)
	e.srv.mu.Unlock()
	p := e.queryRecords("SELECT Parent.Name, OldValue, NewValue FROM sfLma__License__History WHERE Field = 'sfLma__Seats__c'")
	if diff := cmp.Diff([]map[string]any{{
		"attributes": map[string]any{"type": "sfLma__License__History", "url": p.Records[0]["attributes"].(map[string]any)["url"]},
		"Parent":     nil, "OldValue": 1.0, "NewValue": 2.0,
	}}, p.Records); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}

	for i := 0; i < 250; i++ {
		if _, err := e.srv.Install(InstallRequest{PackageID: "033000000000001AAA", SubscriberOrgID: "00D5g0000000000AAA"}); err != nil {
			t.Fatal(err)
		}
	}
	resp, body := e.query("SELECT Id FROM sfLma__License__c", "Sforce-Query-Options", "batchSize=200")
	var page queryPage
	if err := json.Unmarshal(body, &page); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if !regexp.MustCompile(`^/services/data/v62\.0/query/01g[0-9A-Za-z]{12}-200$`).MatchString(page.NextRecordsURL) {
		t.Errorf("nextRecordsUrl = %q", page.NextRecordsURL)
	}
	if page.TotalSize != 254 || page.Done || len(page.Records) != 200 {
		t.Errorf("totalSize %d done %v records %d", page.TotalSize, page.Done, len(page.Records))
	}
}

func TestWireCollectionsResult(t *testing.T) {
	e := newEnv(t, testSeed+"strictLicenseRules: true\n", Options{})
	resp, body := e.call("PATCH", "composite/sobjects", map[string]any{"allOrNone": false, "records": []any{
		map[string]any{"attributes": map[string]any{"type": "sfLma__License__c"}, "id": licActive, "sfLma__Seats__c": 120},
		map[string]any{"attributes": map[string]any{"type": "sfLma__License__c"}, "id": licUninst, "sfLma__Seats__c": 120},
	}})
	want := `[{"id":"a0N000000000001AAA","success":true,"errors":[]},` +
		`{"id":"a0N000000000003AAA","success":false,"errors":[{"statusCode":"FIELD_CUSTOM_VALIDATION_EXCEPTION","message":"This license belongs to an uninstalled package and can't be edited.","fields":[]}]}]`
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if diff := cmp.Diff(want, string(body)); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

func TestWireErrorArray(t *testing.T) {
	e := newEnv(t, testSeed, Options{})
	resp, body := e.call("PATCH", "sobjects/sfLma__License__c/"+licActive, map[string]any{"sfLma__Seats__c": 0})
	want := `[{"message":"Seats: value outside of valid range on numeric field: 0.0","errorCode":"NUMBER_OUTSIDE_VALID_RANGE","fields":["sfLma__Seats__c"]}]`
	if resp.StatusCode != 400 || string(body) != want {
		t.Errorf("got %d %s\nwant 400 %s", resp.StatusCode, body, want)
	}
	resp, body = e.callAs("bogus", "GET", "limits", nil)
	want = `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`
	if resp.StatusCode != 401 || string(body) != want {
		t.Errorf("got %d %s\nwant 401 %s", resp.StatusCode, body, want)
	}
	if resp.Header.Get("Sforce-Limit-Info") == "" {
		t.Error("error responses must carry Sforce-Limit-Info")
	}
	resp, body = e.call("GET", "sobjects/sfLma__License__c/a0N00000000zzzzAAA", nil)
	if resp.StatusCode != 404 || errorCode(t, body) != "NOT_FOUND" {
		t.Errorf("unknown id: %d %s", resp.StatusCode, body)
	}
}

func TestWireOAuth(t *testing.T) {
	e := newEnv(t, testSeed, Options{})
	resp, body := e.form(url.Values{"grant_type": {"client_credentials"}, "client_id": {"lmo-operator"}, "client_secret": {"s3cret"}})
	var tok map[string]string
	if err := json.Unmarshal(body, &tok); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var keys []string
	for k := range tok {
		keys = append(keys, k)
	}
	if diff := cmp.Diff([]string{"access_token", "id", "instance_url", "issued_at", "scope", "signature", "token_type"}, sorted(keys)); diff != "" {
		t.Errorf("token keys (-want +got)\n%s", diff)
	}
	if tok["instance_url"] != e.base || tok["token_type"] != "Bearer" || tok["issued_at"] != "1795608000000" ||
		!strings.HasPrefix(tok["id"], e.base+"/id/00D000000000001AAA/005") {
		t.Errorf("token answer %v", tok)
	}
	for _, tc := range []struct {
		name string
		form url.Values
		want string
	}{
		{"a wrong secret is invalid_client", url.Values{"grant_type": {"client_credentials"}, "client_id": {"lmo-operator"}, "client_secret": {"nope"}},
			`{"error":"invalid_client","error_description":"invalid client credentials"}`},
		{"an unknown client is invalid_client", url.Values{"grant_type": {"client_credentials"}, "client_id": {"who"}, "client_secret": {"s3cret"}},
			`{"error":"invalid_client","error_description":"invalid client credentials"}`},
		{"a password grant is unsupported", url.Values{"grant_type": {"password"}},
			`{"error":"unsupported_grant_type","error_description":"grant type not supported"}`},
		{"a garbage assertion is invalid_grant", url.Values{"grant_type": {grantJWTBearer}, "assertion": {"a.b.c"}},
			`{"error":"invalid_grant","error_description":"invalid assertion"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.form(tc.form)
			if resp.StatusCode != 400 || string(body) != tc.want {
				t.Errorf("got %d %s, want 400 %s", resp.StatusCode, body, tc.want)
			}
		})
	}
}

func sorted(s []string) []string {
	out := append([]string{}, s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestWireLimitsAndVersions(t *testing.T) {
	e := newEnv(t, testSeed, Options{})
	e.srv.SetAPIUsage(234)
	resp, body := e.call("GET", "limits", nil)
	var lim map[string]map[string]int64
	if err := json.Unmarshal(body, &lim); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if diff := cmp.Diff(map[string]int64{"Max": 1000, "Remaining": 765}, lim["DailyApiRequests"]); diff != "" {
		t.Errorf("DailyApiRequests (-want +got)\n%s", diff)
	}
	if got := resp.Header.Get("Sforce-Limit-Info"); got != "api-usage=235/1000" {
		t.Errorf("Sforce-Limit-Info = %q", got)
	}
	resp, body = e.callAs("", "GET", "/services/data", nil)
	var versions []map[string]string
	if err := json.Unmarshal(body, &versions); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if diff := cmp.Diff(map[string]string{"label": "Spring '26", "url": "/services/data/v66.0", "version": "66.0"}, versions[len(versions)-1]); diff != "" {
		t.Errorf("last version (-want +got)\n%s", diff)
	}
	if resp, _ := e.call("GET", "/services/data/v49.0/limits", nil); resp.StatusCode != 404 {
		t.Errorf("v49.0: %d, want 404", resp.StatusCode)
	}
}

func TestWireDescribe(t *testing.T) {
	e := newEnv(t, testSeed, Options{})
	resp, body := e.call("GET", "sobjects/sfLma__License__c/describe", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var d struct {
		Name      string `json:"name"`
		Queryable bool   `json:"queryable"`
		Fields    []struct {
			Name           string `json:"name"`
			Type           string `json:"type"`
			Updateable     bool   `json:"updateable"`
			Nillable       bool   `json:"nillable"`
			PicklistValues []struct {
				Value  string `json:"value"`
				Active bool   `json:"active"`
			} `json:"picklistValues"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatal(err)
	}
	var updateable []string
	var statuses []string
	for _, f := range d.Fields {
		if f.Updateable {
			updateable = append(updateable, f.Name+":"+f.Type)
		}
		if f.Name == fStatus {
			for _, p := range f.PicklistValues {
				statuses = append(statuses, p.Value)
			}
		}
	}
	if diff := cmp.Diff([]string{"sfLma__Status__c:picklist", "sfLma__Seats__c:double", "sfLma__Expiration__c:date"}, updateable); diff != "" {
		t.Errorf("updateable fields (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff(licenseStatuses, statuses); diff != "" {
		t.Errorf("status picklist (-want +got)\n%s", diff)
	}
	if d.Name != objLicense || !d.Queryable {
		t.Errorf("describe header: %+v", d)
	}
}

func TestNotInstalledObjects(t *testing.T) {
	e := newEnv(t, testSeed+"lmaInstalled: false\nfmaInstalled: false\n", Options{})
	for _, obj := range []string{objLicense, objIntValue} {
		resp, body := e.call("GET", "sobjects/"+obj+"/describe", nil)
		if resp.StatusCode != 404 || errorCode(t, body) != "NOT_FOUND" {
			t.Errorf("describe %s: %d %s", obj, resp.StatusCode, body)
		}
		resp, body = e.query("SELECT Id FROM " + obj)
		if resp.StatusCode != 400 || errorCode(t, body) != "INVALID_TYPE" {
			t.Errorf("query %s: %d %s", obj, resp.StatusCode, body)
		}
	}
	if p := e.queryRecords("SELECT Id FROM Organization"); p.TotalSize != 1 {
		t.Errorf("Organization is always there: %+v", p)
	}
}
