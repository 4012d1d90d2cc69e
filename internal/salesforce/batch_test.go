package salesforce

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// subAnswer is what the fake Composite endpoint answers for one subrequest.
type subAnswer struct {
	status int
	body   any
}

// handleComposite installs POST /composite on f: it checks the request is a well-formed batch of
// query subrequests and answers each with answer(index, soql).
func handleComposite(t *testing.T, f *fakeOrg, answer func(i int, soql string) subAnswer) {
	t.Helper()
	f.handle("POST /composite", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			AllOrNone        *bool `json:"allOrNone"`
			CompositeRequest []struct {
				Method      string `json:"method"`
				URL         string `json:"url"`
				ReferenceID string `json:"referenceId"`
			} `json:"compositeRequest"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Errorf("composite body: %v", err)
			writeJSON(w, 400, []map[string]string{{"errorCode": "JSON_PARSER_ERROR", "message": "bad body"}})
			return
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type %q", ct)
		}
		if req.AllOrNone == nil || *req.AllOrNone {
			t.Errorf("allOrNone = %v, want false", req.AllOrNone)
		}
		if n := len(req.CompositeRequest); n == 0 || n > BatchMaxQueries {
			t.Errorf("%d subrequests", n)
		}
		var out []map[string]any
		for i, s := range req.CompositeRequest {
			if s.Method != http.MethodGet || s.ReferenceID != fmt.Sprintf("q%d", i) {
				t.Errorf("subrequest %d: %+v", i, s)
			}
			u, err := url.Parse(s.URL)
			if err != nil || u.Path != "/services/data/v62.0/query/" {
				t.Errorf("subrequest %d url %q", i, s.URL)
				continue
			}
			a := answer(i, u.Query().Get("q"))
			out = append(out, map[string]any{"body": a.body, "httpHeaders": map[string]any{}, "httpStatusCode": a.status, "referenceId": s.ReferenceID})
		}
		writeJSON(w, 200, map[string]any{"compositeResponse": out})
	})
}

// namedRecord is a record type without Validate, for the non-license queries.
type namedRecord struct {
	ID   string `json:"Id"`
	Name string `json:"Name"`
}

func named(id, name string) map[string]any {
	return map[string]any{"attributes": map[string]string{"type": "X"}, "Id": id, "Name": name}
}

// opRecorder collects the Operation of every OnCall.
type opRecorder struct {
	mu  sync.Mutex
	ops []string
}

func (o *opRecorder) config(cfg *Config) {
	cfg.OnCall = func(ci CallInfo) { o.mu.Lock(); o.ops = append(o.ops, ci.Operation); o.mu.Unlock() }
}

func (o *opRecorder) get() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.ops...)
}

func TestRunBatchFiveQueriesInOneCall(t *testing.T) {
	f := newFakeOrg(t)
	soqls := []string{
		"SELECT " + LicenseFields + " FROM " + LicenseObject + " WHERE SystemModstamp > 2026-11-23T10:00:00Z",
		"SELECT Id, Name FROM sfFma__FeatureParameterInteger__c WHERE Name LIKE 'a%'",
		"SELECT Id, Name FROM sfFma__FeatureParameterBoolean__c",
		"SELECT Id, Name FROM sfFma__FeatureParameterDate__c",
		"SELECT Id, Name FROM sfLma__License__History WHERE CreatedDate > 2026-11-23T10:00:00+02:00",
	}
	handleComposite(t, f, func(i int, soql string) subAnswer {
		if soql != soqls[i] {
			t.Errorf("subrequest %d query %q, want %q", i, soql, soqls[i])
		}
		if i == 0 {
			return subAnswer{200, page(2, true, "", licenseRecord(licenseID(1), 50), licenseRecord(licenseID(2), -1))}
		}
		if i == 2 {
			return subAnswer{200, page(0, true, "")}
		}
		return subAnswer{200, page(1, true, "", named(fmt.Sprintf("a1X%012dAAA", i), fmt.Sprintf("n%d", i)))}
	})
	var rec opRecorder
	c := newTestClient(t, f, rec.config)

	b := NewBatch()
	var lics []License
	got := map[int][]namedRecord{}
	calls := map[int]int{}
	if err := AddQuery(b, soqls[0], func(p []License) error { lics = append(lics, p...); calls[0]++; return nil }); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 5; i++ {
		if err := AddQuery(b, soqls[i], func(p []namedRecord) error { got[i] = append(got[i], p...); calls[i]++; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.RunBatch(testContext(t), b); err != nil {
		t.Fatalf("RunBatch: %v", err)
	}
	if len(lics) != 2 || lics[0].ID != licenseID(1) || *lics[0].Seats != 50 || !lics[1].IsSiteLicense() {
		t.Errorf("licenses %+v", lics)
	}
	for i := 1; i < 5; i++ {
		if calls[i] != 1 {
			t.Errorf("fn %d called %d times, want 1", i, calls[i])
		}
		if i == 2 {
			if len(got[i]) != 0 {
				t.Errorf("query 2: %+v", got[i])
			}
			continue
		}
		if len(got[i]) != 1 || got[i][0].Name != fmt.Sprintf("n%d", i) {
			t.Errorf("query %d: %+v", i, got[i])
		}
	}
	if n := f.count("POST /composite"); n != 1 {
		t.Errorf("%d composite calls, want 1", n)
	}
	if ops := rec.get(); strings.Join(ops, ",") != "token,composite" {
		t.Errorf("OnCall operations %v, want one token and one composite", ops)
	}

	// The same batch runs again, and an empty batch makes no call.
	if err := c.RunBatch(testContext(t), b); err != nil || f.count("POST /composite") != 2 || calls[1] != 2 {
		t.Errorf("second run: %v, %d calls", err, f.count("POST /composite"))
	}
	if err := c.RunBatch(testContext(t), NewBatch()); err != nil || f.count("POST /composite") != 2 {
		t.Errorf("empty batch: %v, %d calls", err, f.count("POST /composite"))
	}
}

func TestRunBatchFollowsPagingOfOneResult(t *testing.T) {
	f := newFakeOrg(t)
	handleComposite(t, f, func(i int, soql string) subAnswer {
		if i == 1 {
			return subAnswer{200, page(3, false, "/services/data/v62.0/query/01gXX0000000001-2", licenseRecord(licenseID(1), 1), licenseRecord(licenseID(2), 2))}
		}
		return subAnswer{200, page(1, true, "", named(fmt.Sprintf("a1X%012dAAA", i), "x"))}
	})
	f.handle("GET /query/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/services/data/v62.0/query/01gXX0000000001-2" {
			t.Errorf("queryMore path %q", r.URL.Path)
		}
		writeJSON(w, 200, page(3, true, "", licenseRecord(licenseID(3), 3)))
	})
	var rec opRecorder
	c := newTestClient(t, f, rec.config)
	var order []string
	b := NewBatch()
	mustAdd(t, AddQuery(b, "SELECT Id, Name FROM A", func(p []namedRecord) error { order = append(order, fmt.Sprintf("A%d", len(p))); return nil }))
	mustAdd(t, AddQuery(b, "SELECT Id FROM "+LicenseObject, func(p []License) error { order = append(order, fmt.Sprintf("L%d", len(p))); return nil }))
	mustAdd(t, AddQuery(b, "SELECT Id, Name FROM C", func(p []namedRecord) error { order = append(order, fmt.Sprintf("C%d", len(p))); return nil }))
	if err := c.RunBatch(testContext(t), b); err != nil {
		t.Fatalf("RunBatch: %v", err)
	}
	if strings.Join(order, " ") != "A1 L2 L1 C1" {
		t.Errorf("pages in order %v, want A1 L2 L1 C1", order)
	}
	if ops := rec.get(); strings.Join(ops, ",") != "token,composite,queryMore" {
		t.Errorf("OnCall operations %v", ops)
	}
}

func TestRunBatchSubrequestErrors(t *testing.T) {
	f := newFakeOrg(t)
	handleComposite(t, f, func(i int, soql string) subAnswer {
		switch i {
		case 1:
			return subAnswer{400, []map[string]any{{"errorCode": "MALFORMED_QUERY", "message": "unexpected token: FORM"}}}
		case 3:
			return subAnswer{503, []map[string]any{{"errorCode": "SERVER_UNAVAILABLE", "message": "try later"}}}
		}
		return subAnswer{200, page(1, true, "", named(fmt.Sprintf("a1X%012dAAA", i), "ok"))}
	})
	c := newTestClient(t, f)
	var ran []int
	b := NewBatch()
	for i := range 5 {
		mustAdd(t, AddQuery(b, fmt.Sprintf("SELECT Id, Name FROM T%d", i), func(p []namedRecord) error {
			if len(p) != 1 || p[0].Name != "ok" {
				t.Errorf("query %d page %+v", i, p)
			}
			ran = append(ran, i)
			return nil
		}))
	}
	err := c.RunBatch(testContext(t), b)
	if fmt.Sprint(ran) != "[0 2 4]" {
		t.Errorf("fns of %v ran, want [0 2 4]", ran)
	}
	if err == nil {
		t.Fatal("RunBatch succeeded")
	}
	// The refused query decides the class: retrying the batch would be refused again.
	if ClassOf(err) != Validation || !IsValidation(err) || IsRetryable(err) {
		t.Errorf("ClassOf = %v: %v", ClassOf(err), err)
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Code != CodeMalformedQuery || ae.Message != "unexpected token: FORM" {
		t.Errorf("first APIError %+v", ae)
	}
	if !strings.Contains(err.Error(), "batch query 1 (q1)") || !strings.Contains(err.Error(), "batch query 3 (q3)") || !strings.Contains(err.Error(), "503 SERVER_UNAVAILABLE") {
		t.Errorf("error %q does not name both failures", err)
	}
	if n := f.count("POST /composite"); n != 1 {
		t.Errorf("%d composite calls", n)
	}

	// Alone, the 503 subrequest is Retryable; an fn's error stops the batch and is found by errors.Is.
	handleComposite(t, f, func(i int, soql string) subAnswer {
		if i == 0 {
			return subAnswer{503, []map[string]any{{"errorCode": "SERVER_UNAVAILABLE", "message": "try later"}}}
		}
		return subAnswer{200, page(1, true, "", named(fmt.Sprintf("a1X%012dAAA", i), "ok"))}
	})
	stop := errors.New("stop here")
	ran = nil
	b = NewBatch()
	for i := range 4 {
		mustAdd(t, AddQuery(b, fmt.Sprintf("SELECT Id, Name FROM T%d", i), func(p []namedRecord) error {
			ran = append(ran, i)
			if i == 2 {
				return stop
			}
			return nil
		}))
	}
	err = c.RunBatch(testContext(t), b)
	if !errors.Is(err, stop) || !strings.Contains(err.Error(), "SERVER_UNAVAILABLE") || fmt.Sprint(ran) != "[1 2]" {
		t.Errorf("fn error: %v, ran %v", err, ran)
	}
	b = NewBatch()
	mustAdd(t, AddQuery(b, "SELECT Id FROM A", func([]namedRecord) error { return nil }))
	mustAdd(t, AddQuery(b, "SELECT Id FROM B", func([]namedRecord) error { return nil }))
	if err := c.RunBatch(testContext(t), b); !IsRetryable(err) || IsValidation(err) {
		t.Errorf("503 subrequest: class %v: %v", ClassOf(err), err)
	}
}

func TestRunBatchWholeCallFailures(t *testing.T) {
	f := newFakeOrg(t)
	f.handle("POST /composite", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 403, []map[string]string{{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}})
	})
	c := newTestClient(t, f)
	called := false
	b := NewBatch()
	mustAdd(t, AddQuery(b, "SELECT Id FROM A", func([]namedRecord) error { called = true; return nil }))
	if err := c.RunBatch(testContext(t), b); !IsLimitExceeded(err) || called {
		t.Errorf("403: %v (class %v), fn called %v", err, ClassOf(err), called)
	}
	f.handle("POST /composite", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 500, []map[string]string{{"errorCode": "UNKNOWN_EXCEPTION", "message": "boom"}})
	})
	if err := c.RunBatch(testContext(t), b); !IsRetryable(err) || called {
		t.Errorf("500: %v, fn called %v", err, called)
	}
}

func TestAddQueryRefusesSixthQuery(t *testing.T) {
	b := NewBatch()
	for i := range BatchMaxQueries {
		mustAdd(t, AddQuery(b, fmt.Sprintf("SELECT Id FROM T%d", i), func([]namedRecord) error { return nil }))
	}
	err := AddQuery(b, "SELECT Id FROM T5", func([]namedRecord) error { return nil })
	if !errors.Is(err, ErrBatchFull) || b.Len() != 5 {
		t.Errorf("6th query: %v, Len %d", err, b.Len())
	}
	if err := AddQuery(NewBatch(), "  ", func([]namedRecord) error { return nil }); err == nil {
		t.Error("empty query accepted")
	}
	if err := AddQuery[namedRecord](NewBatch(), "SELECT Id FROM A", nil); err == nil {
		t.Error("nil fn accepted")
	}
}

func TestRunBatchRefusesHostileEnvelopes(t *testing.T) {
	okSub := func(ref string) map[string]any {
		return map[string]any{"body": page(0, true, ""), "httpHeaders": map[string]any{}, "httpStatusCode": 200, "referenceId": ref}
	}
	cases := []struct {
		name string
		body string
	}{
		{"not an object", `[1,2]`},
		{"no compositeResponse", `{}`},
		{"trailing data", `{"compositeResponse":[]} {}`},
		{"too few results", mustJSON(map[string]any{"compositeResponse": []any{okSub("q0")}})},
		{"too many results", mustJSON(map[string]any{"compositeResponse": []any{okSub("q0"), okSub("q1"), okSub("q1")}})},
		{"repeated referenceId", mustJSON(map[string]any{"compositeResponse": []any{okSub("q0"), okSub("q0")}})},
		{"unknown referenceId", mustJSON(map[string]any{"compositeResponse": []any{okSub("q0"), okSub("q9")}})},
		{"padded referenceId", mustJSON(map[string]any{"compositeResponse": []any{okSub("q0"), okSub("q01")}})},
		{"no referenceId", `{"compositeResponse":[{"body":null,"httpStatusCode":200,"referenceId":"q0"},{"body":null,"httpStatusCode":200}]}`},
		{"no status", `{"compositeResponse":[{"body":null,"httpStatusCode":200,"referenceId":"q0"},{"body":null,"referenceId":"q1"}]}`},
		{"status of the wrong type", `{"compositeResponse":[{"body":null,"httpStatusCode":"200","referenceId":"q0"},{"body":null,"httpStatusCode":200,"referenceId":"q1"}]}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeOrg(t)
			f.handle("POST /composite", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(tc.body))
			})
			c := newTestClient(t, f)
			called := false
			b := NewBatch()
			mustAdd(t, AddQuery(b, "SELECT Id FROM A", func([]namedRecord) error { called = true; return nil }))
			mustAdd(t, AddQuery(b, "SELECT Id FROM B", func([]namedRecord) error { called = true; return nil }))
			err := c.RunBatch(testContext(t), b)
			if !errors.Is(err, ErrMalformedResponse) || ClassOf(err) != Terminal || called {
				t.Errorf("err %v, fn called %v", err, called)
			}
		})
	}
}

func TestRunBatchRefusesHostileSubresults(t *testing.T) {
	dup := licenseRecord(licenseID(1), 1)
	// A license without an Id cannot be placed (an unknown status is only quarantined: see
	// TestQueryPassesUnreadableLicensesWithTheirReason).
	badLicense := licenseRecord(licenseID(2), 1)
	delete(badLicense, "Id")
	wrongType := licenseRecord(licenseID(3), 1)
	wrongType["sfLma__Seats__c"] = "many"
	cases := []struct {
		name string
		sub  subAnswer
	}{
		{"duplicate id", subAnswer{200, page(2, true, "", dup, dup)}},
		{"license without an Id", subAnswer{200, page(1, true, "", badLicense)}},
		{"wrong field type", subAnswer{200, page(1, true, "", wrongType)}},
		{"more records than totalSize", subAnswer{200, page(1, true, "", licenseRecord(licenseID(4), 1), licenseRecord(licenseID(5), 1))}},
		{"record not an object", subAnswer{200, map[string]any{"totalSize": 1, "done": true, "records": []any{"x"}}}},
		{"no totalSize", subAnswer{200, map[string]any{"done": true, "records": []any{}}}},
		{"error array with 200", subAnswer{200, []map[string]any{{"errorCode": "X"}}}},
		{"null body", subAnswer{200, nil}},
		{"foreign nextRecordsUrl", subAnswer{200, page(2, false, "https://evil.example/services/data/v62.0/query/01g-1", licenseRecord(licenseID(6), 1))}},
		{"not done without next", subAnswer{200, page(2, false, "", licenseRecord(licenseID(7), 1))}},
		{"redirect status", subAnswer{302, nil}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeOrg(t)
			handleComposite(t, f, func(i int, soql string) subAnswer {
				if i == 1 {
					return tc.sub
				}
				return subAnswer{200, page(1, true, "", licenseRecord(licenseID(100+i), 1))}
			})
			f.handle("GET /query/", func(w http.ResponseWriter, r *http.Request) { t.Errorf("queryMore %s", r.URL) })
			c := newTestClient(t, f)
			var ran []int
			var bad []License
			b := NewBatch()
			for i := range 3 {
				mustAdd(t, AddQuery(b, "SELECT Id FROM "+LicenseObject, func(p []License) error {
					ran = append(ran, i)
					if i == 1 {
						bad = append(bad, p...)
					}
					return nil
				}))
			}
			err := c.RunBatch(testContext(t), b)
			if !errors.Is(err, ErrMalformedResponse) || ClassOf(err) != Terminal || !strings.Contains(err.Error(), "batch query 1 (q1)") {
				t.Errorf("err %v", err)
			}
			if len(bad) != 0 && tc.name != "foreign nextRecordsUrl" {
				t.Errorf("fn saw the hostile page %+v", bad)
			}
			if ran[0] != 0 || ran[len(ran)-1] != 2 {
				t.Errorf("fns ran %v, want the good queries to run", ran)
			}
		})
	}
}

func TestRunBatchReauthenticatesOnce(t *testing.T) {
	f := newFakeOrg(t)
	handleComposite(t, f, func(i int, soql string) subAnswer {
		return subAnswer{200, page(1, true, "", named(fmt.Sprintf("a1X%012dAAA", i), "ok"))}
	})
	var rec opRecorder
	c := newTestClient(t, f, rec.config)
	f.expireTokens()
	n := 0
	b := NewBatch()
	mustAdd(t, AddQuery(b, "SELECT Id FROM A", func(p []namedRecord) error { n += len(p); return nil }))
	mustAdd(t, AddQuery(b, "SELECT Id FROM B", func(p []namedRecord) error { n += len(p); return nil }))
	if err := c.RunBatch(testContext(t), b); err != nil {
		t.Fatalf("RunBatch: %v", err)
	}
	if n != 2 || f.count("token") != 2 || f.count("POST /composite") != 2 {
		t.Errorf("records %d, token calls %d, composite calls %d", n, f.count("token"), f.count("POST /composite"))
	}
	if ops := rec.get(); strings.Join(ops, ",") != "token,composite,token,composite" {
		t.Errorf("OnCall operations %v", ops)
	}

	// A token refused again after re-authenticating is Auth, with no second retry.
	f.handle("POST /composite", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 401, []map[string]any{{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}})
	})
	if err := c.RunBatch(testContext(t), b); !IsAuth(err) || f.count("token") != 3 || f.count("POST /composite") != 4 {
		t.Errorf("persistent 401: %v, token calls %d, composite calls %d", err, f.count("token"), f.count("POST /composite"))
	}
}

func TestClassOfJoinedErrors(t *testing.T) {
	api := func(status int, code string) error { return &APIError{StatusCode: status, Code: code} }
	cases := []struct {
		err  error
		want ErrorClass
	}{
		{errors.Join(api(503, ""), api(400, CodeMalformedQuery)), Validation},
		{errors.Join(api(503, ""), api(404, CodeNotFound)), Terminal},
		{errors.Join(api(503, ""), errors.New("x")), Terminal},
		{errors.Join(api(503, ""), fmt.Errorf("w: %w", api(500, ""))), Retryable},
		{fmt.Errorf("poll: %w", errors.Join(api(400, CodeMalformedQuery), api(403, CodeRequestLimitExceeded))), LimitExceeded},
		{errors.Join(api(400, CodeInvalidField), &AuthError{StatusCode: 400, Code: "invalid_grant"}), Auth},
		{fmt.Errorf("%w and %w", api(502, ""), api(429, "")), Retryable},
		{errors.Join(nil, api(503, "")), Retryable},
	}
	for i, tc := range cases {
		if got := ClassOf(tc.err); got != tc.want {
			t.Errorf("case %d: ClassOf(%v) = %v, want %v", i, tc.err, got, tc.want)
		}
	}
}

func mustAdd(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("AddQuery: %v", err)
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
