package lmosim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lmo-operator/lmo-operator/internal/testenv/testclock"
)

// newClock is a fake clock for deterministic dates and token expiry.
func newClock() *testclock.Clock {
	return testclock.New(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
}

const testSeed = `
organization: {id: 00D000000000001AAA, name: Acme ISV, edition: Enterprise Edition, isSandbox: false, trialExpiration: null}
apiDailyLimit: 1000
clients:
  - {clientID: lmo-operator, clientSecret: s3cret, username: integration@acme.example, name: Integration User}
  - {clientID: lmo-admin, clientSecret: admin-secret, username: dana@acme.example, name: Dana Admin}
packages:
  - packageID: 033000000000001AAA
    name: Acme App
    latestVersion: "1.4.0"
    defaults: {status: Trial, trialDays: 30, activeDays: 0, seats: 10}
    featureParameters:
      - {fullName: acme__MaxProjects, dataType: Integer, direction: LMO to Subscriber}
      - {fullName: acme__AdvancedReporting, dataType: Boolean, direction: LMO to Subscriber}
      - {fullName: acme__ActiveUsers, dataType: Integer, direction: Subscriber to LMO}
      - {fullName: acme__SupportUntil, dataType: Date, direction: LMO to Subscriber}
licenses:
  - {id: a0N000000000001AAA, subscriberOrgID: 00D5g000004XyZ1AAA, packageID: 033000000000001AAA, status: Active, seats: 50, expiration: "2027-06-30", usedLicenses: 12, edition: Enterprise Edition, version: "1.4.0", featureParameters: {acme__MaxProjects: 20, acme__AdvancedReporting: true}}
  - {id: a0N000000000002AAA, subscriberOrgID: 00D5g000004AbC2AAA, packageID: 033000000000001AAA, status: Trial, seats: 10, expiration: "2026-12-20"}
  - {id: a0N000000000003AAA, subscriberOrgID: 00D5g000004Unin3AAA, packageID: 033000000000001AAA, status: Uninstalled, seats: 5, expiration: null}
  - {id: a0N000000000004AAA, subscriberOrgID: 00D5g000004Susp4AAA, packageID: 033000000000001AAA, status: Suspended, seats: -1, expiration: "1970-01-01"}
`

const (
	licActive    = "a0N000000000001AAA"
	licTrial     = "a0N000000000002AAA"
	licUninst    = "a0N000000000003AAA"
	licSuspended = "a0N000000000004AAA"
)

type testEnv struct {
	t     *testing.T
	srv   *Server
	clock *testclock.Clock
	base  string
	token string
}

func mustSeed(t *testing.T, yaml string) *Seed {
	t.Helper()
	seed, err := ParseSeed([]byte(yaml))
	if err != nil {
		t.Fatalf("ParseSeed: %v", err)
	}
	return seed
}

// newEnv starts a server on a loopback port and logs in as lmo-operator.
func newEnv(t *testing.T, seedYAML string, opts Options) *testEnv {
	t.Helper()
	clock := newClock()
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	srv, err := New(mustSeed(t, seedYAML), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	base, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	e := &testEnv{t: t, srv: srv, clock: clock, base: base}
	e.token = e.login("lmo-operator", "s3cret")
	return e
}

var httpClient = &http.Client{Timeout: 20 * time.Second}

func (e *testEnv) login(id, secret string) string {
	e.t.Helper()
	resp, body := e.form(url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}})
	if resp.StatusCode != 200 {
		e.t.Fatalf("login %s: %d %s", id, resp.StatusCode, body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil {
		e.t.Fatal(err)
	}
	return tok.AccessToken
}

func (e *testEnv) form(v url.Values) (*http.Response, []byte) {
	e.t.Helper()
	resp, err := httpClient.PostForm(e.base+"/services/oauth2/token", v)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// call makes a request under /services/data/v62.0 (unless path starts with /) with the env token.
func (e *testEnv) call(method, path string, body any, headers ...string) (*http.Response, []byte) {
	e.t.Helper()
	return e.callAs(e.token, method, path, body, headers...)
}

func (e *testEnv) callAs(token, method, path string, body any, headers ...string) (*http.Response, []byte) {
	e.t.Helper()
	if !strings.HasPrefix(path, "/") {
		path = "/services/data/v62.0/" + path
	}
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, b
}

func (e *testEnv) query(soql string, headers ...string) (*http.Response, []byte) {
	e.t.Helper()
	return e.call("GET", "query?q="+url.QueryEscape(soql), nil, headers...)
}

// queryRecords runs a query that must succeed and returns its decoded page.
func (e *testEnv) queryRecords(soql string) queryPage {
	e.t.Helper()
	resp, body := e.query(soql)
	if resp.StatusCode != 200 {
		e.t.Fatalf("query %q: %d %s", soql, resp.StatusCode, body)
	}
	var p queryPage
	if err := json.Unmarshal(body, &p); err != nil {
		e.t.Fatalf("decoding %s: %v", body, err)
	}
	return p
}

type queryPage struct {
	TotalSize      int              `json:"totalSize"`
	Done           bool             `json:"done"`
	NextRecordsURL string           `json:"nextRecordsUrl"`
	Records        []map[string]any `json:"records"`
}

// errorCode decodes a Salesforce error array and returns the first code.
func errorCode(t *testing.T, body []byte) string {
	t.Helper()
	var errs []struct {
		ErrorCode string `json:"errorCode"`
	}
	if err := json.Unmarshal(body, &errs); err != nil || len(errs) == 0 {
		t.Fatalf("not an error array: %s", body)
	}
	return errs[0].ErrorCode
}

func (e *testEnv) admin(method, path string, body any) (*http.Response, []byte) {
	e.t.Helper()
	return e.callAs("", method, "/__sim/"+path, body)
}
