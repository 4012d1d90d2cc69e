package salesforce_test

// Conformance: example payloads written from Salesforce's documented examples (testdata/conformance,
// each naming its documentation page) are decoded by the client, and lmosim's answers to the same
// requests have exactly their shape, key for key. A difference means the client or lmosim drifted
// from Salesforce, not merely from each other.

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	sf "github.com/lmo-operator/lmo-operator/internal/salesforce"
)

// fixture is one file of testdata/conformance.
type fixture struct {
	Source  string `json:"source"`
	Request struct {
		Method, Path, SOQL string
	} `json:"request"`
	Status  int             `json:"status"`
	Body    json.RawMessage `json:"body"`
	Headers []struct {
		Value      string `json:"value"`
		Used       int    `json:"used"`
		Max        int    `json:"max"`
		PerAppUsed int    `json:"perAppUsed"`
		PerAppMax  int    `json:"perAppMax"`
		AppName    string `json:"appName"`
	} `json:"headers"`
}

func loadFixture(t *testing.T, name string) fixture {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "conformance", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var f fixture
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if !strings.Contains(f.Source, "(") && !strings.Contains(f.Source, "Salesforce Help") {
		t.Fatalf("%s names no documentation page: %q", name, f.Source)
	}
	return f
}

// documentedOrg answers with the fixtures, as Salesforce's documentation shows its answers.
func documentedOrg(t *testing.T) *httptest.Server {
	t.Helper()
	fx := map[string]fixture{}
	for _, n := range []string{"token", "query-page", "query-more", "composite", "collections-update", "error-array", "limits", "limit-info"} {
		fx[n] = loadFixture(t, n)
	}
	var srv *httptest.Server
	answer := func(w http.ResponseWriter, f fixture, body []byte) {
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.Header().Set("Sforce-Limit-Info", fx["limit-info"].Headers[1].Value)
		w.WriteHeader(f.Status)
		_, _ = w.Write(body)
	}
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		const api = "/services/data/v62.0"
		switch {
		case r.URL.Path == "/services/oauth2/token":
			body := strings.Replace(string(fx["token"].Body), "https://acme.my.salesforce.com", srv.URL, 1)
			answer(w, fx["token"], []byte(body))
		case r.URL.Path == api+"/query" && strings.Contains(r.URL.Query().Get("q"), "Nope"):
			answer(w, fx["error-array"], fx["error-array"].Body)
		case r.URL.Path == api+"/query":
			answer(w, fx["query-page"], fx["query-page"].Body)
		case r.URL.Path == api+"/query/01gD0000002HU6KIAW-2":
			answer(w, fx["query-more"], fx["query-more"].Body)
		case r.URL.Path == api+"/composite":
			// The referenceId is the client's own.
			var in struct {
				CompositeRequest []struct {
					ReferenceID string `json:"referenceId"`
				} `json:"compositeRequest"`
			}
			_ = json.NewDecoder(r.Body).Decode(&in)
			body := string(fx["composite"].Body)
			if len(in.CompositeRequest) == 1 {
				body = strings.Replace(body, `"referenceId": "q0"`, `"referenceId": "`+in.CompositeRequest[0].ReferenceID+`"`, 1)
			}
			answer(w, fx["composite"], []byte(body))
		case r.URL.Path == api+"/composite/sobjects":
			answer(w, fx["collections-update"], fx["collections-update"].Body)
		case r.URL.Path == api+"/limits":
			answer(w, fx["limits"], fx["limits"].Body)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestConformanceTheClientDecodesTheDocumentedAnswers(t *testing.T) {
	srv := documentedOrg(t)
	c, err := sf.New(ctxFor(t), sf.Config{InstanceURL: srv.URL, ClientCredentials: &sf.ClientCredentials{ClientID: "cid", ClientSecret: "secret"}})
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	t.Run("query pages", func(t *testing.T) {
		var ids []string
		err := sf.Query(ctxFor(t), c, "SELECT Id, Name FROM sfLma__License__c", func(p []sf.License) error {
			for _, l := range p {
				ids = append(ids, l.ID)
			}
			return nil
		})
		if err != nil || len(ids) != 3 {
			t.Errorf("Query: %v, %v; want 3 records over two pages", err, ids)
		}
	})
	t.Run("error array", func(t *testing.T) {
		err := sf.Query(ctxFor(t), c, "SELECT Nope FROM sfLma__License__c", func([]sf.License) error { return nil })
		var ae *sf.APIError
		if !errors.As(err, &ae) || ae.Code != "INVALID_FIELD" || ae.StatusCode != 400 {
			t.Errorf("Query: %v, want the APIError INVALID_FIELD", err)
		}
	})
	t.Run("composite", func(t *testing.T) {
		b := sf.NewBatch()
		var org []sf.Organization
		if err := sf.AddQuery(b, "SELECT Id FROM Organization", func(p []sf.Organization) error { org = append(org, p...); return nil }); err != nil {
			t.Fatal(err)
		}
		if err := c.RunBatch(ctxFor(t), b); err != nil || len(org) != 1 || org[0].ID != "00D000000000001AAA" {
			t.Errorf("RunBatch: %v, %+v", err, org)
		}
	})
	t.Run("collections result", func(t *testing.T) {
		res, err := c.Update(ctxFor(t), []sf.RecordUpdate{
			{SObject: sf.LicenseObject, ID: "a0N000000000001AAA", Fields: map[string]any{sf.FieldSeats: 5}},
			{SObject: sf.LicenseObject, ID: "a0N000000000002AAA", Fields: map[string]any{sf.FieldSeats: 0}},
		}, false)
		if err != nil || len(res) != 2 || !res[0].Success || res[1].Success || len(res[1].Errors) != 1 ||
			res[1].Errors[0].Code != "NUMBER_OUTSIDE_VALID_RANGE" || len(res[1].Errors[0].Fields) != 1 {
			t.Errorf("Update: %v, %+v", err, res)
		}
	})
	t.Run("limits and the limit header", func(t *testing.T) {
		l, err := c.Limits(ctxFor(t))
		if err != nil || l.DailyAPIRequests.Max != 15000 || l.DailyAPIRequests.Remaining != 14998 {
			t.Errorf("Limits: %v, %+v", err, l)
		}
		u, ok := c.Usage()
		if !ok || u.Used != 25 || u.Max != 5000 || u.PerAppUsed != 17 || u.PerAppMax != 250 || u.AppName != "sample-connected-app" {
			t.Errorf("Usage: %+v, %v", u, ok)
		}
	})
}

func TestConformanceEveryDocumentedLimitHeaderParses(t *testing.T) {
	for _, h := range loadFixture(t, "limit-info").Headers {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Sforce-Limit-Info", h.Value)
			w.Header().Set("Content-Type", "application/json")
			if r.URL.Path == "/services/oauth2/token" {
				_, _ = io.WriteString(w, `{"access_token":"t","instance_url":"http://`+r.Host+`"}`)
				return
			}
			_, _ = io.WriteString(w, `{"DailyApiRequests":{"Max":1,"Remaining":1}}`)
		}))
		c, err := sf.New(ctxFor(t), sf.Config{InstanceURL: srv.URL, ClientCredentials: &sf.ClientCredentials{ClientID: "cid", ClientSecret: "secret"}})
		if err != nil {
			t.Fatal(err)
		}
		u, ok := c.Usage()
		want := sf.Usage{Used: h.Used, Max: h.Max, PerAppUsed: h.PerAppUsed, PerAppMax: h.PerAppMax, AppName: h.AppName, ObservedAt: u.ObservedAt}
		if !ok || u != want {
			t.Errorf("%q: Usage = %+v, want %+v", h.Value, u, want)
		}
		srv.Close()
	}
}

// shape is the set of key paths of a JSON value: objects by key, arrays by their elements'
// shapes merged, leaves as their path.
func shape(t *testing.T, raw []byte) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, raw)
	}
	set := map[string]bool{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				walk(path+"."+k, e)
			}
			if len(x) == 0 {
				set[path+"{}"] = true
			}
		case []any:
			for _, e := range x {
				walk(path+"[]", e)
			}
		default:
			set[path] = true
		}
	}
	walk("", v)
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestConformanceLMOSimAnswersInTheDocumentedShapes(t *testing.T) {
	s := startSim(t, func(seed map[string]any) { seed["perAppAPILimit"] = 250 })
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {ccClientID}, "client_secret": {ccSecret}}
	resp, err := http.PostForm(s.base+"/services/oauth2/token", form)
	if err != nil {
		t.Fatal(err)
	}
	tokenBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal(tokenBody, &tok)
	call := func(method, path string, body any) (*http.Response, []byte) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, s.base+path, rd)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	same := func(name string, status int, got []byte) {
		t.Helper()
		f := loadFixture(t, name)
		if status != f.Status {
			t.Errorf("%s: lmosim answered %d, Salesforce %d", name, status, f.Status)
		}
		if diff := cmp.Diff(shape(t, f.Body), shape(t, got)); diff != "" {
			t.Errorf("%s: lmosim's answer differs in shape from the documented one (-documented +lmosim):\n%s", name, diff)
		}
	}
	const api = "/services/data/v62.0"

	same("token", resp.StatusCode, tokenBody)

	r, page := call("GET", api+"/query?q="+url.QueryEscape("SELECT Id, Name FROM sfLma__License__c"), nil)
	same("query-page", r.StatusCode, page)
	var first struct {
		NextRecordsURL string `json:"nextRecordsUrl"`
	}
	_ = json.Unmarshal(page, &first)
	next := first.NextRecordsURL
	var last []byte
	for i := 0; next != "" && i < 10; i++ {
		r, last = call("GET", next, nil)
		var p struct {
			NextRecordsURL string `json:"nextRecordsUrl"`
		}
		_ = json.Unmarshal(last, &p)
		next = p.NextRecordsURL
	}
	same("query-more", r.StatusCode, last)

	r, body := call("GET", api+"/query?q="+url.QueryEscape("SELECT Nope FROM sfLma__License__c"), nil)
	same("error-array", r.StatusCode, body)

	r, body = call("POST", api+"/composite", map[string]any{"compositeRequest": []any{
		map[string]any{"method": "GET", "referenceId": "q0", "url": api + "/query?q=" + url.QueryEscape("SELECT Id FROM Organization")}}})
	same("composite", r.StatusCode, body)

	r, body = call("PATCH", api+"/composite/sobjects", map[string]any{"allOrNone": false, "records": []any{
		map[string]any{"attributes": map[string]any{"type": sf.LicenseObject}, "id": licActive, sf.FieldSeats: 5},
		map[string]any{"attributes": map[string]any{"type": sf.LicenseObject}, "id": licTrial, sf.FieldSeats: 0},
	}})
	same("collections-update", r.StatusCode, body)

	r, body = call("GET", api+"/limits", nil)
	var limits map[string]json.RawMessage
	_ = json.Unmarshal(body, &limits)
	got, _ := json.Marshal(map[string]json.RawMessage{"DailyApiRequests": limits["DailyApiRequests"], "DailyBulkApiBatches": limits["DailyBulkApiBatches"]})
	same("limits", r.StatusCode, got)

	header := r.Header.Get("Sforce-Limit-Info")
	if !regexp.MustCompile(`^api-usage=\d+/\d+; per-app-api-usage=\d+/250\(appName=[^)]+\)$`).MatchString(header) {
		t.Errorf("lmosim's Sforce-Limit-Info %q is not in the documented multi-part form", header)
	}

	resp, err = http.PostForm(s.base+"/services/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {ccClientID}, "client_secret": {"wrong"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	same("oauth-error", resp.StatusCode, body)
}
