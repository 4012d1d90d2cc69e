package lmosim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
)

func TestPagingAcrossPages(t *testing.T) {
	e := newEnv(t, testSeed+"generate:\n  - {packageID: 033000000000001AAA, count: 4500}\n", Options{})
	seen := map[string]bool{}
	resp, body := e.query("SELECT Id FROM sfLma__License__c", "Sforce-Query-Options", "batchSize=1500")
	pages := 0
	for {
		var p queryPage
		if err := json.Unmarshal(body, &p); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		pages++
		if p.TotalSize != 4504 {
			t.Fatalf("totalSize %d on page %d", p.TotalSize, pages)
		}
		for _, r := range p.Records {
			seen[r["Id"].(string)] = true
		}
		if p.Done {
			if p.NextRecordsURL != "" {
				t.Fatal("the last page has a nextRecordsUrl")
			}
			break
		}
		resp, body = e.call("GET", p.NextRecordsURL, nil)
	}
	if len(seen) != 4504 || pages != 4 {
		t.Errorf("%d distinct ids over %d pages, want 4504 over 4", len(seen), pages)
	}
	p := e.queryRecords("SELECT Id FROM sfLma__License__c")
	if len(p.Records) != 2000 {
		t.Errorf("default page size %d, want 2000", len(p.Records))
	}
	if got := e.srv.Stats().Calls; got["query"] != 2 || got["queryMore"] != 3 {
		t.Errorf("stats %v", got)
	}
}

func TestIfUnmodifiedSince(t *testing.T) {
	e := newEnv(t, testSeed, Options{})
	before := e.clock.Now().UTC().Format(http.TimeFormat)
	e.clock.Advance(2 * time.Second)
	if resp, body := e.call("PATCH", "sobjects/"+objLicense+"/"+licActive, `{"sfLma__Seats__c": 60}`, "If-Unmodified-Since", before); resp.StatusCode != 204 {
		t.Fatalf("unmodified since: %d %s", resp.StatusCode, body)
	}
	resp, body := e.call("PATCH", "sobjects/"+objLicense+"/"+licActive, `{"sfLma__Seats__c": 70}`, "If-Unmodified-Since", before)
	if resp.StatusCode != 412 || errorCode(t, body) != "PRECONDITION_FAILED" {
		t.Errorf("modified since: %d %s", resp.StatusCode, body)
	}
}

func TestDailyLimitExhaustion(t *testing.T) {
	e := newEnv(t, testSeed, Options{})
	e.srv.SetAPIUsage(999)
	if resp, _ := e.call("GET", "limits", nil); resp.StatusCode != 200 {
		t.Fatalf("the last call of the day: %d", resp.StatusCode)
	}
	resp, body := e.call("GET", "limits", nil)
	if resp.StatusCode != 403 || errorCode(t, body) != "REQUEST_LIMIT_EXCEEDED" || resp.Header.Get("Sforce-Limit-Info") != "api-usage=1000/1000" {
		t.Errorf("past the limit: %d %s %v", resp.StatusCode, body, resp.Header)
	}
	resp, body = e.admin("POST", "usage", map[string]int{"used": 10})
	if resp.StatusCode != 200 {
		t.Fatalf("usage: %d %s", resp.StatusCode, body)
	}
	if resp, _ := e.call("GET", "limits", nil); resp.StatusCode != 200 {
		t.Errorf("after resetting usage: %d", resp.StatusCode)
	}
}

func TestTokenExpiry(t *testing.T) {
	e := newEnv(t, testSeed, Options{TokenLifetime: time.Hour})
	if resp, _ := e.call("GET", "limits", nil); resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
	e.clock.Advance(time.Hour)
	resp, body := e.call("GET", "limits", nil)
	if resp.StatusCode != 401 || errorCode(t, body) != "INVALID_SESSION_ID" {
		t.Errorf("after the lifetime: %d %s", resp.StatusCode, body)
	}
}

func TestHistoryAndModstamp(t *testing.T) {
	e := newEnv(t, testSeed, Options{})
	admin := e.login("lmo-admin", "admin-secret")
	e.clock.Advance(1750 * time.Millisecond) // 12:00:01.750: stamps drop the milliseconds
	const second = "2026-11-25T12:00:01.000+0000"
	for i, body := range []string{`{"sfLma__Seats__c": 60}`, `{"sfLma__Seats__c": 61, "sfLma__Expiration__c": "2027-12-31"}`} {
		if resp, b := e.callAs(admin, "PATCH", "sobjects/"+objLicense+"/"+licActive, body); resp.StatusCode != 204 {
			t.Fatalf("write %d: %d %s", i, resp.StatusCode, b)
		}
		p := e.queryRecords("SELECT Id, SystemModstamp, LastModifiedDate FROM sfLma__License__c WHERE Id = '" + licActive + "'")
		if got := p.Records[0]["SystemModstamp"]; got != second {
			t.Errorf("write %d: SystemModstamp %v, want the whole second %s", i, got, second)
		}
		if got := p.Records[0]["LastModifiedDate"]; got != second {
			t.Errorf("write %d: LastModifiedDate %v, want %s", i, got, second)
		}
	}
	// Both writes share the stamp: a poll for changes after the first one's stamp finds nothing,
	// although the second write came after it. Only a poll that reaches back into that second sees
	// the record.
	if p := e.queryRecords("SELECT Id FROM sfLma__License__c WHERE SystemModstamp > 2026-11-25T12:00:01Z"); p.TotalSize != 0 {
		t.Errorf("a change in the watermark's second shows after the watermark: %d records", p.TotalSize)
	}
	if p := e.queryRecords("SELECT Id FROM sfLma__License__c WHERE SystemModstamp >= 2026-11-25T12:00:01Z"); p.TotalSize != 1 {
		t.Errorf("polling from the watermark's second: %d records, want 1", p.TotalSize)
	}
	// A later second moves the stamp on.
	e.clock.Advance(time.Second)
	if resp, b := e.callAs(admin, "PATCH", "sobjects/"+objLicense+"/"+licActive, `{"sfLma__Seats__c": 62}`); resp.StatusCode != 204 {
		t.Fatalf("write 3: %d %s", resp.StatusCode, b)
	}
	p := e.queryRecords("SELECT Id, SystemModstamp FROM sfLma__License__c WHERE SystemModstamp > 2026-11-25T12:00:01Z")
	if len(p.Records) != 1 || p.Records[0]["SystemModstamp"] != "2026-11-25T12:00:02.000+0000" {
		t.Fatalf("the next second's write: %+v", p.Records)
	}
	watermark := "2026-11-25T12:00:02Z"
	h := e.queryRecords("SELECT CreatedDate FROM sfLma__License__History WHERE ParentId = '" + licActive + "' AND Field != 'created' ORDER BY CreatedDate")
	var created []string
	for _, r := range h.Records {
		created = append(created, r["CreatedDate"].(string))
	}
	if diff := cmp.Diff([]string{second, second, second, "2026-11-25T12:00:02.000+0000"}, created); diff != "" {
		t.Errorf("history CreatedDate (-want +got)\n%s", diff)
	}
	// A write that changes nothing does not move the stamp (a second later, where a move would show).
	e.clock.Advance(time.Second)
	e.callAs(admin, "PATCH", "sobjects/"+objLicense+"/"+licActive, `{"sfLma__Seats__c": 62}`)
	if p := e.queryRecords("SELECT Id FROM sfLma__License__c WHERE SystemModstamp > " + watermark); p.TotalSize != 0 {
		t.Errorf("a no-op write moved SystemModstamp")
	}
	p = e.queryRecords("SELECT Field, OldValue, NewValue, CreatedBy.Name FROM sfLma__License__History WHERE ParentId = '" + licActive + "' AND Field != 'created' ORDER BY CreatedDate")
	var got []string
	for _, r := range p.Records {
		got = append(got, fmt.Sprintf("%v %v->%v by %v", r["Field"], r["OldValue"], r["NewValue"], r["CreatedBy"].(map[string]any)["Name"]))
	}
	want := []string{
		"sfLma__Seats__c 50->60 by Dana Admin",
		"sfLma__Expiration__c 2027-06-30->2027-12-31 by Dana Admin",
		"sfLma__Seats__c 60->61 by Dana Admin",
		"sfLma__Seats__c 61->62 by Dana Admin",
	}
	if diff := cmp.Diff(sorted(want), sorted(got)); diff != "" {
		t.Errorf("history (-want +got)\n%s", diff)
	}
	l := e.queryRecords("SELECT LastModifiedBy.Name FROM sfLma__License__c WHERE Id = '" + licActive + "'")
	if name := l.Records[0]["LastModifiedBy"].(map[string]any)["Name"]; name != "Dana Admin" {
		t.Errorf("LastModifiedBy.Name = %v", name)
	}
}

func TestStatsCounting(t *testing.T) {
	e := newEnv(t, testSeed, Options{})
	e.query("SELECT Id FROM sfLma__License__c")
	e.query("SELECT Nope FROM sfLma__License__c") // failed calls count too
	e.call("GET", "sobjects/"+objLicense+"/"+licActive, nil)
	e.call("PATCH", "sobjects/"+objLicense+"/"+licActive, `{"sfLma__Seats__c": 9}`)
	e.call("PATCH", "composite/sobjects", map[string]any{"records": []any{map[string]any{"attributes": map[string]any{"type": objLicense}, "id": licTrial, "sfLma__Seats__c": 9}}})
	e.call("GET", "sobjects/"+objLicense+"/describe", nil)
	e.call("GET", "limits", nil)
	e.callAs("", "GET", "/services/data", nil)
	resp, body := e.admin("GET", "stats", nil)
	var got Stats
	if err := json.Unmarshal(body, &got); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	want := Stats{Calls: map[string]int64{"token": 1, "query": 2, "queryMore": 0, "rowGet": 1, "rowPatch": 1, "collectionsPatch": 1, "composite": 0,
		"describe": 1, "limits": 1, "versions": 1, "other": 0}, RecordsWritten: 2}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	e.admin("POST", "stats/reset", nil)
	if got := e.srv.Stats(); got.Calls["query"] != 0 || got.RecordsWritten != 0 {
		t.Errorf("after reset: %+v", got)
	}
}

func TestAdminInstallUpgradeUninstall(t *testing.T) {
	e := newEnv(t, testSeed, Options{})
	resp, body := e.admin("POST", "installs", InstallRequest{PackageID: "033000000000001AAA", SubscriberOrgID: "00D5g000009New1AAA", Edition: "Enterprise Edition"})
	var l License
	if err := json.Unmarshal(body, &l); err != nil || resp.StatusCode != 201 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	exp := "2026-12-25"
	want := License{ID: l.ID, Name: "L-00005", Status: "Trial", Seats: 10, Expiration: &exp, SubscriberOrgID: "00D5g000009New1AAA",
		PackageID: "033000000000001AAA", PackageRecordID: l.PackageRecordID, Version: "1.4.0", Edition: "Enterprise Edition",
		InstallDate: "2026-11-25", OrgInstance: l.OrgInstance, LeadID: l.LeadID, LastModifiedBy: "License Manager",
		LastModifiedDate: l.LastModifiedDate, SystemModstamp: l.SystemModstamp,
		FeatureParameters:       map[string]any{"acme__MaxProjects": 0.0, "acme__AdvancedReporting": false, "acme__ActiveUsers": 0.0, "acme__SupportUntil": nil},
		FeatureParameterRecords: l.FeatureParameterRecords, RecordType: "Trial"}
	if diff := cmp.Diff(want, l); diff != "" {
		t.Errorf("install (-want +got)\n%s", diff)
	}
	if len(l.FeatureParameterRecords) != 4 {
		t.Errorf("install: featureParameterRecords = %v, want the ids of the 4 value records", l.FeatureParameterRecords)
	}
	_, body = e.admin("POST", "installs", InstallRequest{PackageID: "033000000000001AAA", SubscriberOrgID: "00D5g000009New2AAA", IsSandbox: true})
	var sb License
	_ = json.Unmarshal(body, &sb)
	if sb.Seats != -1 {
		t.Errorf("a sandbox install gets a site license, got %v seats", sb.Seats)
	}
	if resp, body := e.admin("POST", "upgrades", map[string]string{"licenseID": l.ID, "version": "1.5.0"}); resp.StatusCode != 200 || !strings.Contains(string(body), `"version":"1.5.0"`) {
		t.Errorf("upgrade: %d %s", resp.StatusCode, body)
	}
	if p := e.queryRecords("SELECT sfLma__Latest_Version__c FROM sfLma__Package__c"); p.Records[0]["sfLma__Latest_Version__c"] != "1.5.0" {
		t.Errorf("latest version %v", p.Records[0])
	}
	if resp, body := e.admin("POST", "uninstalls", map[string]string{"licenseID": l.ID}); resp.StatusCode != 200 || !strings.Contains(string(body), `"status":"Uninstalled"`) {
		t.Errorf("uninstall: %d %s", resp.StatusCode, body)
	}
	p := e.queryRecords("SELECT Field FROM sfLma__License__History WHERE ParentId = '" + l.ID + "' ORDER BY CreatedDate")
	var fields []string
	for _, r := range p.Records {
		fields = append(fields, r["Field"].(string))
	}
	if diff := cmp.Diff([]string{"created", "sfLma__Version_Number__c", "sfLma__Status__c"}, fields); diff != "" {
		t.Errorf("history (-want +got)\n%s", diff)
	}
	if resp, _ := e.admin("GET", "licenses/a0N00000000zzzzAAA", nil); resp.StatusCode != 404 {
		t.Errorf("unknown license: %d", resp.StatusCode)
	}
	if resp, body := e.admin("PATCH", "licenses/"+licActive, map[string]any{"usedLicenses": 44, "featureParameters": map[string]any{"acme__ActiveUsers": 40}}); resp.StatusCode != 200 ||
		!strings.Contains(string(body), `"acme__ActiveUsers":40`) || !strings.Contains(string(body), `"usedLicenses":44`) {
		t.Errorf("subscriber update: %d %s", resp.StatusCode, body)
	}
}

func TestStatePersistsAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	e := newEnv(t, testSeed, Options{StatePath: path})
	if resp, body := e.call("PATCH", "sobjects/"+objLicense+"/"+licActive, `{"sfLma__Seats__c": 77}`); resp.StatusCode != 204 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	installed, err := e.srv.Install(InstallRequest{PackageID: "033000000000001AAA", SubscriberOrgID: "00D5g000009New1AAA"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	e2 := newEnv(t, testSeed, Options{StatePath: path})
	l, ok := e2.srv.GetLicense(licActive)
	if !ok || l.Seats != 77 || l.LastModifiedBy != "Integration User" {
		t.Errorf("after restart: %+v", l)
	}
	if _, ok := e2.srv.GetLicense(installed.ID); !ok {
		t.Error("the installed license is gone after restart")
	}
	if p := e2.queryRecords("SELECT Id FROM sfLma__License__History WHERE Field = 'sfLma__Seats__c'"); p.TotalSize != 1 {
		t.Errorf("history after restart: %+v", p)
	}
	next, err := e2.srv.Install(InstallRequest{PackageID: "033000000000001AAA", SubscriberOrgID: "00D5g000009New3AAA"})
	if err != nil || next.ID == installed.ID || next.Name != "L-00006" {
		t.Errorf("ids continue after restart: %+v %v", next, err)
	}
}

func TestGenerateHundredThousand(t *testing.T) {
	start := time.Now()
	e := newEnv(t, testSeed+"generate:\n  - {packageID: 033000000000001AAA, count: 100000}\n", Options{})
	t.Logf("seeding 100,000 licenses took %v", time.Since(start))
	start = time.Now()
	p := e.queryRecords("SELECT Id, SystemModstamp FROM sfLma__License__c WHERE SystemModstamp > 2026-11-25T11:00:00.000Z")
	t.Logf("incremental query over 100,004 licenses took %v (%d rows)", time.Since(start), p.TotalSize)
	c := e.queryRecords("SELECT COUNT() FROM sfLma__License__c")
	if c.TotalSize != 100004 {
		t.Errorf("count %d", c.TotalSize)
	}
	var statuses []string
	for _, s := range licenseStatuses {
		n := e.queryRecords("SELECT COUNT() FROM sfLma__License__c WHERE sfLma__Status__c = '" + s + "'").TotalSize
		if n < 1000 {
			t.Errorf("only %d %s licenses", n, s)
		}
		statuses = append(statuses, fmt.Sprintf("%s=%d", s, n))
	}
	t.Log(statuses)
	// Reproducible: a second server generates the same ids.
	again, err := New(mustSeed(t, testSeed+"generate:\n  - {packageID: 033000000000001AAA, count: 100000}\n"), Options{Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := again.st.licenses[50000], e.srv.st.licenses[50000]; a.ID != b.ID || a.SubscriberOrgID != b.SubscriberOrgID || a.Status != b.Status {
		t.Errorf("generate is not reproducible: %+v vs %+v", a, b)
	}
}

// TestJWTBearer signs assertions with a throwaway key whose self-signed certificate is in the seed.
func TestJWTBearer(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "lmo-operator"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	e := newEnv(t, strings.Replace(testSeed, "clients:\n", "clients:\n  - {clientID: jwt-client, username: jwt@acme.example, name: JWT User, certificate: "+fmt.Sprintf("%q", certPEM)+"}\n", 1), Options{})
	now := e.clock.Now()
	sign := func(k *rsa.PrivateKey, claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := jwt.MapClaims{"iss": "jwt-client", "sub": "jwt@acme.example", "aud": "https://login.salesforce.com", "exp": now.Add(2 * time.Minute).Unix()}
	with := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for kk, vv := range good {
			c[kk] = vv
		}
		c[k] = v
		return c
	}
	tests := []struct {
		name      string
		assertion string
		wantError string
	}{
		{"a valid assertion gets a token", sign(key, good), ""},
		{"login.salesforce.com with a trailing slash is accepted", sign(key, with("aud", "https://login.salesforce.com/")), ""},
		// The JWT bearer flow names login.salesforce.com (production), test.salesforce.com (sandbox)
		// or an Experience Cloud site URL; the org's own URL is not an audience, nor is an array.
		{"the org's own URL is not an audience", sign(key, with("aud", e.base)), "invalid_grant"},
		{"an array audience is invalid_grant", sign(key, with("aud", []string{"https://login.salesforce.com"})), "invalid_grant"},
		{"the sandbox audience for a production org is invalid_grant", sign(key, with("aud", "https://test.salesforce.com")), "invalid_grant"},
		{"exp as a string is accepted", sign(key, with("exp", fmt.Sprint(now.Add(time.Minute).Unix()))), ""},
		{"a wrong signature is invalid_grant", sign(other, good), "invalid_grant"},
		{"a wrong audience is invalid_grant", sign(key, with("aud", "https://evil.example")), "invalid_grant"},
		{"an expired assertion is invalid_grant", sign(key, with("exp", now.Add(-time.Second).Unix())), "invalid_grant"},
		{"exp too far ahead is invalid_grant", sign(key, with("exp", now.Add(10*time.Minute).Unix())), "invalid_grant"},
		{"a wrong subject is invalid_grant", sign(key, with("sub", "someone@acme.example")), "invalid_grant"},
		{"an unknown issuer is invalid_client", sign(key, with("iss", "nobody")), "invalid_client"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.form(url.Values{"grant_type": {grantJWTBearer}, "assertion": {tc.assertion}})
			var out map[string]string
			_ = json.Unmarshal(body, &out)
			if tc.wantError == "" {
				if resp.StatusCode != 200 || out["access_token"] == "" {
					t.Fatalf("%d %s", resp.StatusCode, body)
				}
				if r, b := e.callAs(out["access_token"], "GET", "limits", nil); r.StatusCode != 200 {
					t.Errorf("the token does not work: %d %s", r.StatusCode, b)
				}
				return
			}
			if resp.StatusCode != 400 || out["error"] != tc.wantError {
				t.Errorf("got %d %s, want 400 %s", resp.StatusCode, body, tc.wantError)
			}
		})
	}
}

func TestSampleSeedLoads(t *testing.T) {
	seed, err := LoadSeed("../../config/samples/lmosim-seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(seed, Options{Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(srv.st.licenses); n < 30 {
		t.Errorf("%d licenses", n)
	}
	for _, sub := range []string{"00D5g000004XyZ1AAA", "00D5g000004AbC2AAA"} {
		found := false
		for _, l := range srv.st.licenses {
			found = found || l.SubscriberOrgID == sub
		}
		if !found {
			t.Errorf("subscriber %s missing", sub)
		}
	}
	_, err = ParseSeed([]byte("organization: {name: x}\nbogusKey: 1\n"))
	if err == nil || !strings.Contains(err.Error(), "bogusKey") {
		t.Errorf("unknown keys must be errors naming the key, got %v", err)
	}
}
