package lmosim

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// sub builds one compositeRequest entry.
func sub(method, path, ref string, body any) map[string]any {
	m := map[string]any{"method": method, "url": "/services/data/v62.0/" + path, "referenceId": ref}
	if body != nil {
		m["body"] = body
	}
	return m
}

func qsub(soql, ref string) map[string]any {
	return sub("GET", "query/?q="+strings.ReplaceAll(url.QueryEscape(soql), "%20", "+"), ref, nil)
}

type compositeItem struct {
	Body           json.RawMessage   `json:"body"`
	HTTPHeaders    map[string]string `json:"httpHeaders"`
	HTTPStatusCode int               `json:"httpStatusCode"`
	ReferenceID    string            `json:"referenceId"`
}

// composite posts a Composite request that must answer 200 and returns its items.
func (e *testEnv) composite(allOrNone bool, subs ...map[string]any) []compositeItem {
	e.t.Helper()
	resp, body := e.call("POST", "composite", map[string]any{"allOrNone": allOrNone, "compositeRequest": subs})
	if resp.StatusCode != 200 {
		e.t.Fatalf("composite: %d %s", resp.StatusCode, body)
	}
	var out struct {
		CompositeResponse []compositeItem `json:"compositeResponse"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		e.t.Fatalf("decoding %s: %v", body, err)
	}
	return out.CompositeResponse
}

func TestWireComposite(t *testing.T) {
	e := newEnv(t, testSeed, Options{})
	resp, body := e.call("POST", "composite", map[string]any{"allOrNone": false, "compositeRequest": []any{
		qsub("SELECT Id, sfLma__Seats__c FROM sfLma__License__c WHERE Id = '"+licActive+"'", "licenses"),
		sub("GET", "sobjects/sfLma__License__c/"+licTrial+"?fields=Id,sfLma__Status__c", "trial", nil),
		sub("PATCH", "sobjects/sfLma__License__c/"+licTrial, "patch", map[string]any{"sfLma__Seats__c": 11}),
		sub("GET", "sobjects/sfLma__License__c/a0N00000000zzzzAAA", "missing", nil),
		sub("GET", "limits", "limits", nil),
	}})
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	want := `{"compositeResponse":[` +
		`{"body":{"totalSize":1,"done":true,"records":[{"attributes":{"type":"sfLma__License__c","url":"/services/data/v62.0/sobjects/sfLma__License__c/a0N000000000001AAA"},"Id":"a0N000000000001AAA","sfLma__Seats__c":50.0}]},"httpHeaders":{},"httpStatusCode":200,"referenceId":"licenses"},` +
		`{"body":{"attributes":{"type":"sfLma__License__c","url":"/services/data/v62.0/sobjects/sfLma__License__c/a0N000000000002AAA"},"Id":"a0N000000000002AAA","sfLma__Status__c":"Trial"},"httpHeaders":{},"httpStatusCode":200,"referenceId":"trial"},` +
		`{"body":null,"httpHeaders":{},"httpStatusCode":204,"referenceId":"patch"},` +
		`{"body":[{"message":"The requested resource does not exist","errorCode":"NOT_FOUND"}],"httpHeaders":{},"httpStatusCode":404,"referenceId":"missing"},` +
		`{"body":{"DailyApiRequests":{"Max":1000,"Remaining":999},"DailyAsyncApexExecutions":{"Max":250000,"Remaining":250000},"DailyBulkApiBatches":{"Max":15000,"Remaining":15000}},"httpHeaders":{},"httpStatusCode":200,"referenceId":"limits"}]}`
	if diff := cmp.Diff(want, string(body)); diff != "" {
		t.Errorf("composite response (-want +got)\n%s", diff)
	}
	if got := resp.Header.Get("Sforce-Limit-Info"); got != "api-usage=1/1000" {
		t.Errorf("Sforce-Limit-Info = %q", got)
	}
	if l, _ := e.srv.GetLicense(licTrial); l.Seats != 11 {
		t.Errorf("the PATCH subrequest did not write: seats %v", l.Seats)
	}
}

func TestCompositeCountsAsOneCall(t *testing.T) {
	e := newEnv(t, testSeed, Options{})
	_, body := e.admin("GET", "stats", nil)
	var stats Stats
	if err := json.Unmarshal(body, &stats); err != nil {
		t.Fatal(err)
	}
	if n, ok := stats.Calls["composite"]; !ok || n != 0 {
		t.Errorf("stats must list composite even when 0: %s", body)
	}
	used := e.srv.apiUsed.Load()
	before := e.srv.Stats()
	var subs []map[string]any
	for i := 0; i < 5; i++ {
		subs = append(subs, qsub("SELECT Id FROM sfLma__License__c", fmt.Sprintf("q%d", i)))
	}
	subs = append(subs, sub("GET", "sobjects/sfLma__License__c/"+licActive, "row", nil),
		sub("PATCH", "sobjects/sfLma__License__c/"+licActive, "patch", map[string]any{"sfLma__Seats__c": 51}))
	items := e.composite(false, subs...)
	for _, it := range items {
		if it.HTTPStatusCode >= 300 {
			t.Errorf("%s: %d %s", it.ReferenceID, it.HTTPStatusCode, it.Body)
		}
	}
	if got := e.srv.apiUsed.Load() - used; got != 1 {
		t.Errorf("API usage went up by %d, want 1", got)
	}
	after := e.srv.Stats()
	for op, want := range map[string]int64{"composite": 1, "query": 0, "rowGet": 0, "rowPatch": 0} {
		if got := after.Calls[op] - before.Calls[op]; got != want {
			t.Errorf("stats %s +%d, want +%d", op, got, want)
		}
	}
	if got := after.RecordsWritten - before.RecordsWritten; got != 1 {
		t.Errorf("recordsWritten +%d, want +1", got)
	}
}

func TestCompositeLimits(t *testing.T) {
	e := newEnv(t, testSeed, Options{})
	var many []map[string]any
	for i := 0; i < 26; i++ {
		many = append(many, sub("GET", "limits", fmt.Sprintf("l%d", i), nil))
	}
	var queries []map[string]any
	for i := 0; i < 6; i++ {
		queries = append(queries, qsub("SELECT Id FROM sfLma__License__c", fmt.Sprintf("q%d", i)))
	}
	for _, tc := range []struct {
		name string
		body any
		code string
	}{
		{"26 subrequests", map[string]any{"compositeRequest": many}, "LIMIT_EXCEEDED"},
		{"6 queries", map[string]any{"compositeRequest": queries}, "LIMIT_EXCEEDED"},
		{"no subrequests", map[string]any{"compositeRequest": []any{}}, "INVALID_API_INPUT"},
		{"a duplicate referenceId", map[string]any{"compositeRequest": []any{sub("GET", "limits", "a", nil), sub("GET", "limits", "a", nil)}}, "INVALID_API_INPUT"},
		{"a url outside the REST API", map[string]any{"compositeRequest": []any{map[string]any{"method": "GET", "url": "/x", "referenceId": "a"}}}, "INVALID_API_INPUT"},
		{"not JSON", "{", "JSON_PARSER_ERROR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.call("POST", "composite", tc.body)
			if resp.StatusCode != 400 || errorCode(t, body) != tc.code {
				t.Errorf("got %d %s, want 400 %s", resp.StatusCode, body, tc.code)
			}
		})
	}
	// Exactly 25 subrequests, 5 of them queries, is fine.
	ok := append(append([]map[string]any{}, queries[:5]...), many[:20]...)
	if items := e.composite(false, ok...); len(items) != 25 {
		t.Errorf("%d results for 25 subrequests", len(items))
	}
}

func TestCompositeSubrequestError(t *testing.T) {
	e := newEnv(t, testSeed, Options{})
	items := e.composite(false,
		qsub("SELECT Id FROM sfLma__License__c WHERE Id = '"+licActive+"'", "good"),
		qsub("SELECT Id FROM FROM sfLma__License__c", "bad"),
		qsub("SELECT Nope__c FROM sfLma__License__c", "unknownField"),
		sub("PATCH", "sobjects/sfLma__License__c/"+licActive, "patch", map[string]any{"sfLma__Seats__c": 55}),
	)
	got := map[string]string{}
	for _, it := range items {
		got[it.ReferenceID] = fmt.Sprint(it.HTTPStatusCode)
		if it.HTTPStatusCode == 400 {
			got[it.ReferenceID] += " " + errorCode(t, it.Body)
		}
	}
	if diff := cmp.Diff(map[string]string{"good": "200", "bad": "400 MALFORMED_QUERY", "unknownField": "400 INVALID_FIELD", "patch": "204"}, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	var page queryPage
	if err := json.Unmarshal(items[0].Body, &page); err != nil || page.TotalSize != 1 {
		t.Errorf("good query: %s", items[0].Body)
	}
	if l, _ := e.srv.GetLicense(licActive); l.Seats != 55 {
		t.Errorf("with allOrNone false the PATCH stays: seats %v", l.Seats)
	}
}

func TestCompositeAllOrNoneRollsBack(t *testing.T) {
	e := newEnv(t, testSeed+"strictLicenseRules: true\n", Options{})
	before := e.srv.Stats().RecordsWritten
	items := e.composite(true,
		sub("PATCH", "sobjects/sfLma__License__c/"+licActive, "seats", map[string]any{"sfLma__Seats__c": 70, "sfLma__Expiration__c": "2028-01-31"}),
		sub("PATCH", "sobjects/sfLma__License__c/"+licUninst, "uninstalled", map[string]any{"sfLma__Seats__c": 7}),
		sub("GET", "limits", "after", nil),
	)
	var got []string
	for _, it := range items {
		got = append(got, fmt.Sprintf("%s %d %s", it.ReferenceID, it.HTTPStatusCode, errorCode(t, it.Body)))
	}
	want := []string{"seats 400 PROCESSING_HALTED", "uninstalled 400 FIELD_CUSTOM_VALIDATION_EXCEPTION", "after 400 PROCESSING_HALTED"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	if l, _ := e.srv.GetLicense(licActive); l.Seats != 50 || l.Expiration == nil || *l.Expiration != "2027-06-30" {
		t.Errorf("not rolled back: %+v", l)
	}
	if p := e.queryRecords("SELECT Id FROM sfLma__License__History WHERE ParentId = '" + licActive + "' AND Field != 'created'"); p.TotalSize != 0 {
		t.Errorf("rolled-back writes left %d history rows", p.TotalSize)
	}
	if got := e.srv.Stats().RecordsWritten - before; got != 0 {
		t.Errorf("recordsWritten +%d after a rollback", got)
	}
}

func TestCompositeQueryLocatorAndHeaders(t *testing.T) {
	e := newEnv(t, testSeed, Options{})
	for i := 0; i < 250; i++ {
		if _, err := e.srv.Install(InstallRequest{PackageID: "033000000000001AAA", SubscriberOrgID: "00D5g0000000000AAA"}); err != nil {
			t.Fatal(err)
		}
	}
	q := qsub("SELECT Id FROM sfLma__License__c", "first")
	q["httpHeaders"] = map[string]string{"Sforce-Query-Options": "batchSize=200"}
	items := e.composite(false, q)
	var page queryPage
	if err := json.Unmarshal(items[0].Body, &page); err != nil || page.Done || len(page.Records) != 200 {
		t.Fatalf("first page: %s", items[0].Body)
	}
	items = e.composite(false, map[string]any{"method": "GET", "url": page.NextRecordsURL, "referenceId": "next"},
		sub("GET", "queryAll/?q=SELECT+COUNT()+FROM+sfLma__License__c", "all", nil))
	var next, all queryPage
	if err := json.Unmarshal(items[0].Body, &next); err != nil || !next.Done || len(next.Records) != 54 {
		t.Errorf("next page: %s", items[0].Body)
	}
	if err := json.Unmarshal(items[1].Body, &all); err != nil || all.TotalSize != 254 {
		t.Errorf("queryAll: %s", items[1].Body)
	}
}

func TestCompositeFaults(t *testing.T) {
	e := newEnv(t, testSeed, Options{})
	// A query fault does not reach query subrequests: the composite is one call of kind composite.
	if err := e.srv.AddFault(Fault{Operation: "query", Status: 503}); err != nil {
		t.Fatal(err)
	}
	if items := e.composite(false, qsub("SELECT Id FROM sfLma__License__c", "q")); items[0].HTTPStatusCode != 200 {
		t.Errorf("a query fault fired inside a composite: %d %s", items[0].HTTPStatusCode, items[0].Body)
	}
	e.srv.ClearFaults()
	for _, op := range []string{"composite", "*"} {
		if err := e.srv.AddFault(Fault{Operation: op, Status: 503, Count: 1}); err != nil {
			t.Fatal(err)
		}
		resp, body := e.call("POST", "composite", map[string]any{"compositeRequest": []any{sub("GET", "limits", "l", nil)}})
		if resp.StatusCode != 503 || errorCode(t, body) != "SERVER_UNAVAILABLE" {
			t.Errorf("%s fault: %d %s", op, resp.StatusCode, body)
		}
	}
	// lockRowShare on composite fails that share of the row PATCH subrequests.
	if err := e.srv.AddFault(Fault{Operation: "composite", LockRowShare: 1, Count: 1}); err != nil {
		t.Fatal(err)
	}
	items := e.composite(false, sub("PATCH", "sobjects/sfLma__License__c/"+licActive, "p", map[string]any{"sfLma__Seats__c": 52}),
		sub("GET", "limits", "l", nil))
	if items[0].HTTPStatusCode != 400 || errorCode(t, items[0].Body) != "UNABLE_TO_LOCK_ROW" || items[1].HTTPStatusCode != 200 {
		t.Errorf("lockRowShare: %+v", items)
	}
	// corrupt on composite makes its query pages hostile.
	if err := e.srv.AddFault(Fault{Operation: "composite", Corrupt: "wrongTypes", Count: 1}); err != nil {
		t.Fatal(err)
	}
	items = e.composite(false, qsub("SELECT Id FROM sfLma__License__c", "q"))
	if !strings.HasPrefix(string(items[0].Body), `{"totalSize":"4"`) {
		t.Errorf("wrongTypes: %s", items[0].Body)
	}
}

// History rows filter on CreatedDate with a datetime literal, sort on it and reach CreatedBy.Name.
func TestHistoryCreatedDateQueries(t *testing.T) {
	e := newEnv(t, testSeed, Options{})
	admin := e.login("lmo-admin", "admin-secret")
	for i, seats := range []int{60, 61, 62} {
		e.clock.Advance(time.Minute)
		tok := e.token
		if i == 1 {
			tok = admin
		}
		if resp, b := e.callAs(tok, "PATCH", "sobjects/"+objLicense+"/"+licActive, map[string]any{"sfLma__Seats__c": seats}); resp.StatusCode != 204 {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
	}
	// Writes at 12:01, 12:02 and 12:03; the first is before the cut.
	for _, cut := range []string{"2026-11-25T12:01:30Z", "2026-11-25T12:01:30.000+0000", "2026-11-25T13:01:30+01:00"} {
		p := e.queryRecords("SELECT NewValue, CreatedDate, CreatedBy.Name FROM sfLma__License__History WHERE ParentId = '" + licActive +
			"' AND Field = 'sfLma__Seats__c' AND CreatedDate > " + cut + " ORDER BY CreatedDate DESC")
		var got []string
		for _, r := range p.Records {
			got = append(got, fmt.Sprintf("%v %v %v", r["NewValue"], r["CreatedDate"], r["CreatedBy"].(map[string]any)["Name"]))
		}
		want := []string{
			"62 2026-11-25T12:03:00.000+0000 Integration User",
			"61 2026-11-25T12:02:00.000+0000 Dana Admin",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("CreatedDate > %s (-want +got)\n%s", cut, diff)
		}
	}
	p := e.queryRecords("SELECT NewValue FROM sfLma__License__History WHERE Field = 'sfLma__Seats__c' AND CreatedDate >= 2026-11-25T12:01:00Z ORDER BY CreatedDate ASC")
	var got []any
	for _, r := range p.Records {
		got = append(got, r["NewValue"])
	}
	if diff := cmp.Diff([]any{60.0, 61.0, 62.0}, got); diff != "" {
		t.Errorf("ORDER BY CreatedDate ASC (-want +got)\n%s", diff)
	}
}
