package salesforce

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
)

func TestNewRefusesUnsafeConfig(t *testing.T) {
	_, keyPEM := testKey()
	cc := &ClientCredentials{ClientID: testClientID, ClientSecret: testSecret}
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	cases := []struct {
		name string
		cfg  Config
	}{
		{"plain http to a remote instance is refused", Config{InstanceURL: "http://acme.my.salesforce.com", ClientCredentials: cc}},
		{"plain http to a remote login host is refused", Config{InstanceURL: "https://acme.my.salesforce.com", LoginURL: "http://login.salesforce.com", ClientCredentials: cc}},
		{"a non-http scheme is refused", Config{InstanceURL: "ftp://acme.my.salesforce.com", ClientCredentials: cc}},
		{"a URL with a path is refused", Config{InstanceURL: "https://acme.my.salesforce.com/services", ClientCredentials: cc}},
		{"a URL with user info is refused", Config{InstanceURL: "https://u:p@acme.my.salesforce.com", ClientCredentials: cc}},
		{"a URL with a query is refused", Config{InstanceURL: "https://acme.my.salesforce.com?x=1", ClientCredentials: cc}},
		{"a relative URL is refused", Config{InstanceURL: "acme.my.salesforce.com", ClientCredentials: cc}},
		{"no credentials are refused", Config{InstanceURL: "https://acme.my.salesforce.com"}},
		{"both flows at once are refused", Config{InstanceURL: "https://acme.my.salesforce.com", ClientCredentials: cc, JWTBearer: &JWTBearer{ClientID: "x", Username: "u", PrivateKeyPEM: keyPEM}}},
		{"an empty client secret is refused", Config{InstanceURL: "https://acme.my.salesforce.com", ClientCredentials: &ClientCredentials{ClientID: "x"}}},
		{"a key that is not PEM is refused", Config{InstanceURL: "https://acme.my.salesforce.com", JWTBearer: &JWTBearer{ClientID: "x", Username: "u", PrivateKeyPEM: []byte("not a key")}}},
		{"an API version that is not a number is refused", Config{InstanceURL: "https://acme.my.salesforce.com", APIVersion: "latest", ClientCredentials: cc}},
		{"a transport that skips TLS verification is refused", Config{InstanceURL: "https://acme.my.salesforce.com", ClientCredentials: cc, HTTPClient: insecure}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(testContext(t), tc.cfg)
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("New: got %v, want ErrInvalidConfig", err)
			}
			if strings.Contains(err.Error(), testSecret) || strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Fatalf("error leaks a secret: %v", err)
			}
		})
	}
}

func TestNewAcceptsLoopbackHTTP(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "[::1]", "localhost"} {
		t.Run(host, func(t *testing.T) {
			u, err := parseEndpoint("InstanceURL", "http://"+host+":8080/")
			if err != nil {
				t.Fatalf("parseEndpoint: %v", err)
			}
			if u.Path != "" {
				t.Fatalf("trailing slash kept: %q", u.String())
			}
		})
	}
}

func TestSecretsNeverFormatted(t *testing.T) {
	_, keyPEM := testKey()
	jb := JWTBearer{ClientID: testClientID, Username: "api@acme.com", PrivateKeyPEM: keyPEM}
	cc := ClientCredentials{ClientID: testClientID, ClientSecret: testSecret}
	cfg := Config{InstanceURL: "https://acme.my.salesforce.com", ClientCredentials: &cc}
	f := newFakeOrg(t)
	c := newTestClient(t, f)
	values := []any{jb, &jb, cc, &cc, cfg, &cfg, Config{JWTBearer: &jb}, c, []any{cc, jb}, map[string]any{"cc": cc}}
	secrets := []string{testSecret, string(keyPEM), "PRIVATE KEY", "token-1"}
	for _, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
			out := fmt.Sprintf(verb, v)
			for _, s := range secrets {
				if strings.Contains(out, s) || strings.Contains(out, fmt.Sprintf("%x", s)) {
					t.Errorf("fmt %s of %T shows a secret: %s", verb, v, out)
				}
			}
		}
		js, _ := json.Marshal(v)
		var logged strings.Builder
		slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "v", v)
		slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "v", v)
		for _, s := range secrets {
			if strings.Contains(string(js), s) || strings.Contains(logged.String(), s) {
				t.Errorf("json or slog of %T shows a secret", v)
			}
		}
	}
	if !strings.Contains(fmt.Sprint(cc), testClientID) {
		t.Errorf("the client id should stay visible for debugging: %v", cc)
	}
}

func TestAuthErrorsAreTypedAndRedacted(t *testing.T) {
	f := newFakeOrg(t)
	f.tokenHandler = func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		// A hostile or careless server echoes the secret back.
		writeJSON(w, 400, map[string]string{"error": "invalid_client", "error_description": "bad secret " + r.PostForm.Get("client_secret")})
	}
	var infos []CallInfo
	_, err := New(testContext(t), Config{InstanceURL: f.srv.URL, ClientCredentials: &ClientCredentials{ClientID: testClientID, ClientSecret: testSecret},
		OnCall: func(ci CallInfo) { infos = append(infos, ci) }})
	var ae *AuthError
	if !errors.As(err, &ae) || ae.Code != "invalid_client" || !IsAuth(err) {
		t.Fatalf("got %v, want an AuthError invalid_client", err)
	}
	if strings.Contains(err.Error(), testSecret) {
		t.Fatalf("error leaks the secret: %v", err)
	}
	if len(infos) != 1 || infos[0].Operation != OpToken || infos[0].StatusCode != 400 || infos[0].Err == nil {
		t.Fatalf("OnCall got %+v, want one failed token call", infos)
	}
}

func TestTokenEndpointFailuresAreClassified(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		want   ErrorClass
	}{
		{"invalid_grant is an Auth error", 400, `{"error":"invalid_grant","error_description":"user hasn't approved this consumer"}`, Auth},
		{"an unreadable 400 is an Auth error", 400, `<html>nope</html>`, Auth},
		{"a 503 of the token endpoint is retryable", 503, `{"error":"unavailable"}`, Retryable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeOrg(t)
			f.tokenHandler = func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}
			_, err := New(testContext(t), Config{InstanceURL: f.srv.URL, ClientCredentials: &ClientCredentials{ClientID: testClientID, ClientSecret: testSecret}})
			if got := ClassOf(err); got != tc.want {
				t.Fatalf("ClassOf(%v) = %v, want %v", err, got, tc.want)
			}
		})
	}
}

func TestInstanceURLIsPinned(t *testing.T) {
	f := newFakeOrg(t)
	f.instanceURL = "https://evil.example.com"
	_, err := New(testContext(t), Config{InstanceURL: f.srv.URL, ClientCredentials: &ClientCredentials{ClientID: testClientID, ClientSecret: testSecret}})
	if !IsAuth(err) || !strings.Contains(err.Error(), "evil.example.com") {
		t.Fatalf("got %v, want an Auth error naming the foreign instance", err)
	}
}

func TestTokenRedirectIsNotFollowed(t *testing.T) {
	other := newFakeOrg(t)
	f := newFakeOrg(t)
	f.tokenHandler = func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.srv.URL+"/services/oauth2/token", http.StatusTemporaryRedirect)
	}
	_, err := New(testContext(t), Config{InstanceURL: f.srv.URL, ClientCredentials: &ClientCredentials{ClientID: testClientID, ClientSecret: testSecret}})
	if err == nil || other.count("token") != 0 {
		t.Fatalf("got %v and %d calls to the redirect target, want an error and none", err, other.count("token"))
	}
}

// rawAssertionClaims is the JSON of an assertion's claims, to check their wire types.
func rawAssertionClaims(t *testing.T, assertion string) string {
	t.Helper()
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		t.Fatalf("assertion %q is not a JWT", assertion)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("assertion claims: %v", err)
	}
	return string(b)
}

func TestJWTBearerAudience(t *testing.T) {
	_, keyPEM := testKey()
	cases := []struct {
		name, login, instance, audience string
		want                            string
	}{
		{"a production My Domain gets login.salesforce.com", "https://acme.my.salesforce.com", "https://acme.my.salesforce.com", "", AudienceProduction},
		{"login.salesforce.com gets itself", "https://login.salesforce.com", "https://acme.my.salesforce.com", "", AudienceProduction},
		{"test.salesforce.com is a sandbox", "https://test.salesforce.com", "https://acme--uat.sandbox.my.salesforce.com", "", AudienceSandbox},
		{"a sandbox My Domain is a sandbox", "https://acme--uat.sandbox.my.salesforce.com", "https://acme--uat.sandbox.my.salesforce.com", "", AudienceSandbox},
		{"an Experience Cloud site is named explicitly", "https://acme.my.site.com", "https://acme.my.salesforce.com", "https://acme.my.site.com", "https://acme.my.site.com"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := validate(Config{InstanceURL: tc.instance, LoginURL: tc.login,
				JWTBearer: &JWTBearer{ClientID: testClientID, Username: "api@acme.com", PrivateKeyPEM: keyPEM, Audience: tc.audience}})
			if err != nil {
				t.Fatalf("validate: %v", err)
			}
			if s.jwt.Audience != tc.want {
				t.Errorf("audience = %q, want %q", s.jwt.Audience, tc.want)
			}
		})
	}
	if _, err := validate(Config{InstanceURL: "https://acme.my.salesforce.com",
		JWTBearer: &JWTBearer{ClientID: testClientID, Username: "api@acme.com", PrivateKeyPEM: keyPEM, Audience: "acme.my.site.com"}}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("validate with an audience that is not an https URL: %v, want ErrInvalidConfig", err)
	}
}

func TestClientCredentialsRefuseTheGenericLoginHosts(t *testing.T) {
	for _, login := range []string{"https://login.salesforce.com", "https://test.salesforce.com/"} {
		_, err := validate(Config{InstanceURL: "https://acme.my.salesforce.com", LoginURL: login,
			ClientCredentials: &ClientCredentials{ClientID: testClientID, ClientSecret: testSecret}})
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "My Domain") {
			t.Errorf("client credentials with LoginURL %s: %v, want ErrInvalidConfig naming My Domain", login, err)
		}
	}
	if _, err := validate(Config{InstanceURL: "https://acme.my.salesforce.com",
		ClientCredentials: &ClientCredentials{ClientID: testClientID, ClientSecret: testSecret}}); err != nil {
		t.Errorf("client credentials on the My Domain: %v", err)
	}
}

// Credentials go only to Salesforce: a LoginURL or InstanceURL on another host is refused before any
// call, unless the cluster admin allowed that host (issue 13).
func TestCredentialsGoOnlyToSalesforceHosts(t *testing.T) {
	cc := &ClientCredentials{ClientID: testClientID, ClientSecret: testSecret}
	cases := []struct {
		name, instance, login string
		extra                 []string
		ok                    bool
	}{
		{"a My Domain", "https://acme.my.salesforce.com", "", nil, true},
		{"a sandbox My Domain", "https://acme--uat.sandbox.my.salesforce.com", "", nil, true},
		{"an Experience Cloud site as the login host", "https://acme.my.salesforce.com", "https://acme.my.site.com", nil, true},
		{"loopback (lmosim)", "http://127.0.0.1:8090", "", nil, true},
		{"a login URL on someone's own server", "https://acme.my.salesforce.com", "https://collector.example", nil, false},
		{"an instance on someone's own server", "https://collector.example", "", nil, false},
		{"a look-alike domain", "https://acme.my.salesforce.com", "https://evil-salesforce.com", nil, false},
		{"a Salesforce name inside another domain", "https://acme.my.salesforce.com.evil.example", "", nil, false},
		{"a host the cluster admin allowed", "https://sfgw.internal.example", "", []string{"sfgw.internal.example"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := validate(Config{InstanceURL: tc.instance, LoginURL: tc.login, ExtraHosts: tc.extra, ClientCredentials: cc})
			if (err == nil) != tc.ok {
				t.Fatalf("validate: %v, want ok %v", err, tc.ok)
			}
			if err != nil && (!errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "not a Salesforce host")) {
				t.Errorf("validate: %v, want ErrInvalidConfig saying the host is not Salesforce's", err)
			}
		})
	}
}

func TestJWTBearerAssertion(t *testing.T) {
	key, keyPEM := testKey()
	login := newFakeOrg(t)
	instance := newFakeOrg(t)
	var claims jwt.RegisteredClaims
	var lastAssertion string
	login.tokenHandler = func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.PostForm.Get("grant_type") != grantJWTBearer {
			writeJSON(w, 400, map[string]string{"error": "unsupported_grant_type"})
			return
		}
		lastAssertion = r.PostForm.Get("assertion")
		_, err := jwt.ParseWithClaims(r.PostForm.Get("assertion"), &claims, func(*jwt.Token) (any, error) { return &key.PublicKey, nil },
			jwt.WithValidMethods([]string{"RS256"}))
		if err != nil {
			writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": err.Error()})
			return
		}
		writeJSON(w, 200, map[string]string{"access_token": "token-1", "instance_url": instance.srv.URL})
	}
	before := time.Now()
	c, err := New(testContext(t), Config{InstanceURL: instance.srv.URL, LoginURL: login.srv.URL + "/",
		JWTBearer: &JWTBearer{ClientID: testClientID, Username: "api@acme.com", PrivateKeyPEM: keyPEM}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if claims.Issuer != testClientID || claims.Subject != "api@acme.com" {
		t.Errorf("iss/sub = %q/%q", claims.Issuer, claims.Subject)
	}
	// aud is login.salesforce.com for a production org, whatever the login URL, and a string.
	if diff := cmp.Diff(jwt.ClaimStrings{AudienceProduction}, claims.Audience); diff != "" {
		t.Errorf("aud (-want +got):\n%s", diff)
	}
	if !strings.Contains(rawAssertionClaims(t, lastAssertion), `"aud":"https://login.salesforce.com"`) {
		t.Errorf("assertion claims %s: want aud as a single string", rawAssertionClaims(t, lastAssertion))
	}
	if exp := claims.ExpiresAt.Time; exp.After(before.Add(3*time.Minute)) || exp.Before(before) {
		t.Errorf("exp %v is not within 3 minutes of now", exp)
	}
	if instance.count("token") != 0 || login.count("token") != 1 {
		t.Errorf("token calls: login %d instance %d, want 1 and 0", login.count("token"), instance.count("token"))
	}
	if _, err := c.Limits(testContext(t)); err == nil {
		// no /limits route: a 404 is expected, proving REST calls go to the instance.
		t.Errorf("Limits: want NOT_FOUND from the instance")
	} else if !IsNotFound(err) {
		t.Errorf("Limits: %v, want NOT_FOUND", err)
	}
}

func TestQueryPagesIntoTypedRecords(t *testing.T) {
	f := newFakeOrg(t)
	var gotBatch atomic.Value
	f.handle("GET /query", func(w http.ResponseWriter, r *http.Request) {
		gotBatch.Store(r.Header.Get("Sforce-Query-Options"))
		if !strings.HasPrefix(r.URL.Query().Get("q"), "SELECT "+LicenseFields) {
			t.Errorf("q = %q", r.URL.Query().Get("q"))
		}
		rec := licenseRecord(licenseID(1), 50)
		rec["sfLma__Expiration__c"] = "2027-01-31"
		rec["sfLma__Package__r"] = map[string]any{"attributes": map[string]string{"type": PackageObject}, "sfLma__Package_ID__c": "033000000000001AAA"}
		rec["LastModifiedBy"] = map[string]any{"Name": "Jane Admin"}
		writeJSON(w, 200, page(3, false, "/services/data/v62.0/query/01gXX0000000001-1", rec, licenseRecord(licenseID(2), -1)))
	})
	f.handle("GET /query/", func(w http.ResponseWriter, r *http.Request) {
		rec := licenseRecord(licenseID(3), 5)
		rec["sfLma__Expiration__c"] = nil
		rec["sfLma__Package__r"] = nil
		writeJSON(w, 200, page(3, true, "", rec))
	})
	var ops []string
	var mu sync.Mutex
	c := newTestClient(t, f, func(cfg *Config) {
		cfg.OnCall = func(ci CallInfo) { mu.Lock(); ops = append(ops, ci.Operation); mu.Unlock() }
	})
	var pages [][]License
	err := Query(testContext(t), c, "SELECT "+LicenseFields+" FROM "+LicenseObject, func(p []License) error {
		pages = append(pages, p)
		return nil
	}, WithBatchSize(500))
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	if len(pages) != 2 || len(pages[0]) != 2 || len(pages[1]) != 1 {
		t.Fatalf("pages %d", len(pages))
	}
	l := pages[0][0]
	if l.ID != licenseID(1) || *l.Seats != 50 || l.Expiration != (Date{2027, time.January, 31}) || l.PackageID() != "033000000000001AAA" ||
		l.LastModifiedBy.Name != "Jane Admin" || !l.SystemModstamp.Equal(DateTime{time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}) {
		t.Errorf("first license decoded wrong: %+v", l)
	}
	if !pages[0][1].IsSiteLicense() || !pages[1][0].NeverExpires() || pages[1][0].PackageID() != "" {
		t.Errorf("site license / never expires / empty relationship decoded wrong")
	}
	if diff := cmp.Diff([]string{OpToken, OpQuery, OpQueryMore}, ops); diff != "" {
		t.Errorf("operations (-want +got):\n%s", diff)
	}
	if gotBatch.Load() != "batchSize=500" {
		t.Errorf("Sforce-Query-Options = %v", gotBatch.Load())
	}
}

func TestQueryAllUsesQueryAll(t *testing.T) {
	f := newFakeOrg(t)
	f.handle("GET /queryAll", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, page(0, true, ""))
	})
	c := newTestClient(t, f)
	calls := 0
	if err := Query(testContext(t), c, "SELECT Id FROM sfLma__License__c", func(p []License) error { calls++; return nil }, WithQueryAll()); err != nil {
		t.Fatalf("Query: %v", err)
	}
	if f.count("GET /queryAll") != 1 || calls != 1 {
		t.Fatalf("queryAll calls %d, fn calls %d", f.count("GET /queryAll"), calls)
	}
}

func TestQueryReauthenticatesMidQuery(t *testing.T) {
	f := newFakeOrg(t)
	f.handle("GET /query", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, page(2, false, "/services/data/v62.0/query/01gXX-1", licenseRecord(licenseID(1), 1)))
		// The token expires between the pages.
		f.expireTokens()
	})
	f.handle("GET /query/", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, page(2, true, "", licenseRecord(licenseID(2), 1)))
	})
	var statuses []string
	c := newTestClient(t, f, func(cfg *Config) {
		cfg.OnCall = func(ci CallInfo) { statuses = append(statuses, fmt.Sprintf("%s %d", ci.Operation, ci.StatusCode)) }
	})
	n := 0
	err := Query(testContext(t), c, "SELECT Id FROM sfLma__License__c", func(p []License) error { n += len(p); return nil })
	if err != nil || n != 2 {
		t.Fatalf("Query: %v after %d records", err, n)
	}
	want := []string{"token 200", "query 200", "queryMore 401", "token 200", "queryMore 200"}
	if diff := cmp.Diff(want, statuses); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestUnauthorizedAfterReauthIsAuthError(t *testing.T) {
	f := newFakeOrg(t)
	f.handle("GET /limits", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 401, []map[string]any{{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}})
	})
	c := newTestClient(t, f)
	_, err := c.Limits(testContext(t))
	if !IsAuth(err) || f.count("token") != 2 || f.count("GET /limits") != 2 {
		t.Fatalf("got %v with %d token and %d limits calls, want Auth after one re-auth", err, f.count("token"), f.count("GET /limits"))
	}
}

func TestConcurrentCallsShareOneReauth(t *testing.T) {
	f := newFakeOrg(t)
	f.handle("GET /limits", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, map[string]any{"DailyApiRequests": map[string]int{"Max": 15000, "Remaining": 14000}})
	})
	c := newTestClient(t, f)
	f.expireTokens()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			if _, err := c.Limits(testContext(t)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Limits: %v", err)
	}
	if got := f.count("token"); got != 2 {
		t.Errorf("token calls = %d, want 2 (New and one shared re-auth)", got)
	}
}

func TestHostileQueryAnswers(t *testing.T) {
	next := func(i int) string { return fmt.Sprintf("/services/data/v62.0/query/01gXX-%d", i) }
	cases := []struct {
		name  string
		first func(w http.ResponseWriter)
		more  func(w http.ResponseWriter, r *http.Request)
	}{
		{"invalid JSON", func(w http.ResponseWriter) {
			w.WriteHeader(200)
			_, _ = io.WriteString(w, `{"totalSize": 1, "done": tru`)
		}, nil},
		{"a JSON array instead of a page", func(w http.ResponseWriter) { writeJSON(w, 200, []int{1, 2}) }, nil},
		{"totalSize of the wrong type", func(w http.ResponseWriter) {
			writeJSON(w, 200, map[string]any{"totalSize": "many", "done": true, "records": []any{}})
		}, nil},
		{"a record field of the wrong type", func(w http.ResponseWriter) {
			rec := licenseRecord(licenseID(1), 1)
			rec["sfLma__Seats__c"] = "fifty"
			writeJSON(w, 200, page(1, true, "", rec))
		}, nil},
		{"a record that is not an object", func(w http.ResponseWriter) {
			writeJSON(w, 200, map[string]any{"totalSize": 1, "done": true, "records": []any{"x"}})
		}, nil},
		{"a 50 MB body", func(w http.ResponseWriter) {
			w.WriteHeader(200)
			_, _ = io.WriteString(w, `{"totalSize":1,"done":true,"records":[{"Id":"`)
			chunk := strings.Repeat("x", 1<<20)
			for range 50 {
				if _, err := io.WriteString(w, chunk); err != nil {
					return
				}
			}
			_, _ = io.WriteString(w, `"}]}`)
		}, nil},
		{"duplicate record ids", func(w http.ResponseWriter) {
			writeJSON(w, 200, page(2, true, "", licenseRecord(licenseID(1), 1), licenseRecord(licenseID(1), 2)))
		}, nil},
		{"duplicate ids across pages", func(w http.ResponseWriter) {
			writeJSON(w, 200, page(2, false, next(1), licenseRecord(licenseID(1), 1)))
		}, func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, 200, page(2, true, "", licenseRecord(licenseID(1), 1)))
		}},
		{"paging that never ends", func(w http.ResponseWriter) {
			writeJSON(w, 200, page(3, false, next(0), licenseRecord(licenseID(0), 1)))
		}, func() func(w http.ResponseWriter, r *http.Request) {
			var n atomic.Int64
			return func(w http.ResponseWriter, _ *http.Request) {
				i := int(n.Add(1))
				writeJSON(w, 200, page(3, false, next(i), licenseRecord(licenseID(i), 1)))
			}
		}()},
		{"empty pages that are not the last", func(w http.ResponseWriter) {
			writeJSON(w, 200, page(3, false, next(0)))
		}, nil},
		{"a repeated nextRecordsUrl", func(w http.ResponseWriter) {
			writeJSON(w, 200, page(10, false, next(1), licenseRecord(licenseID(0), 1)))
		}, func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, page(10, false, next(1), licenseRecord(licenseID(int(time.Now().UnixNano()%1e9)), 1)))
		}},
		{"a nextRecordsUrl to another host", func(w http.ResponseWriter) {
			writeJSON(w, 200, page(2, false, "https://evil.example.com/services/data/v62.0/query/01g-1", licenseRecord(licenseID(0), 1)))
		}, nil},
		{"a nextRecordsUrl to another resource", func(w http.ResponseWriter) {
			writeJSON(w, 200, page(2, false, "/services/data/v62.0/query/../sobjects/x", licenseRecord(licenseID(0), 1)))
		}, nil},
		{"not done without a nextRecordsUrl", func(w http.ResponseWriter) {
			writeJSON(w, 200, page(2, false, "", licenseRecord(licenseID(0), 1)))
		}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeOrg(t)
			f.handle("GET /query", func(w http.ResponseWriter, _ *http.Request) { tc.first(w) })
			if tc.more != nil {
				f.handle("GET /query/", tc.more)
			}
			c := newTestClient(t, f)
			seen := 0
			err := Query(testContext(t), c, "SELECT Id FROM sfLma__License__c", func(p []License) error { seen += len(p); return nil })
			if !errors.Is(err, ErrMalformedResponse) {
				t.Fatalf("Query: got %v, want ErrMalformedResponse", err)
			}
			if ClassOf(err) != Terminal {
				t.Errorf("class %v, want Terminal", ClassOf(err))
			}
			if calls := f.count("GET /query/"); calls > 5 {
				t.Errorf("%d queryMore calls, want the client to stop early", calls)
			}
			if len(err.Error()) > 2048 {
				t.Errorf("error message of %d bytes", len(err.Error()))
			}
		})
	}
}

func TestQueryStopsWhenFnFails(t *testing.T) {
	f := newFakeOrg(t)
	f.handle("GET /query", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, page(2, false, "/services/data/v62.0/query/01gXX-1", licenseRecord(licenseID(1), 1)))
	})
	c := newTestClient(t, f)
	stop := errors.New("stop")
	if err := Query(testContext(t), c, "SELECT Id FROM sfLma__License__c", func([]License) error { return stop }); err != stop {
		t.Fatalf("got %v, want fn's error as is", err)
	}
	if f.count("GET /query/") != 0 {
		t.Fatalf("next page fetched after fn failed")
	}
}

func TestHostileErrorBodies(t *testing.T) {
	f := newFakeOrg(t)
	f.handle("GET /limits", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(500)
		chunk := strings.Repeat("y", 1<<20)
		for range 50 {
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
	})
	c := newTestClient(t, f)
	_, err := c.Limits(testContext(t))
	if err == nil || len(err.Error()) > 2048 {
		t.Fatalf("got %v", err)
	}
}

func TestUpdateChunksInOrder(t *testing.T) {
	f := newFakeOrg(t)
	var sizes []int
	var mu sync.Mutex
	f.handle("PATCH /composite/sobjects", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			AllOrNone bool             `json:"allOrNone"`
			Records   []map[string]any `json:"records"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Errorf("decode: %v", err)
		}
		mu.Lock()
		sizes = append(sizes, len(req.Records))
		mu.Unlock()
		var out []map[string]any
		for _, rec := range req.Records {
			id := rec["id"].(string)
			if rec["attributes"].(map[string]any)["type"] != LicenseObject {
				t.Errorf("record %s without attributes.type", id)
			}
			if _, ok := rec[FieldExpiration]; !ok || rec[FieldExpiration] != nil {
				t.Errorf("nil field not sent as null: %v", rec)
			}
			var n int
			_, _ = fmt.Sscanf(id, "a0N%012dAAA", &n)
			if n%7 == 3 {
				out = append(out, map[string]any{"id": id, "success": false, "errors": []map[string]any{{"statusCode": "UNABLE_TO_LOCK_ROW", "message": "unable to obtain exclusive access", "fields": []string{}}}})
				continue
			}
			out = append(out, map[string]any{"id": id, "success": true, "errors": []any{}})
		}
		writeJSON(w, 200, out)
	})
	c := newTestClient(t, f)
	updates := make([]RecordUpdate, 450)
	for i := range updates {
		updates[i] = RecordUpdate{SObject: LicenseObject, ID: licenseID(i), Fields: map[string]any{FieldSeats: i, FieldExpiration: nil}}
	}
	results, err := c.Update(testContext(t), updates, false)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if diff := cmp.Diff([]int{200, 200, 50}, sizes); diff != "" {
		t.Errorf("chunk sizes (-want +got):\n%s", diff)
	}
	if len(results) != 450 {
		t.Fatalf("%d results", len(results))
	}
	for i, r := range results {
		if r.ID != licenseID(i) {
			t.Fatalf("result %d is for %s", i, r.ID)
		}
		if wantFail := i%7 == 3; r.Success == wantFail {
			t.Errorf("result %d success %v", i, r.Success)
		}
		if !r.Success && (!IsRetryable(r.Err()) || r.Errors[0].Code != CodeUnableToLockRow) {
			t.Errorf("result %d: %v, want a retryable UNABLE_TO_LOCK_ROW", i, r.Err())
		}
	}
}

func TestUpdateReturnsDoneChunksWhenOneFails(t *testing.T) {
	cases := []struct {
		name  string
		fail  func(w http.ResponseWriter)
		class ErrorClass
	}{
		{"a 503 is retryable", func(w http.ResponseWriter) {
			writeJSON(w, 503, []map[string]string{{"errorCode": "SERVER_UNAVAILABLE", "message": "maintenance"}})
		}, Retryable},
		{"an exhausted limit", func(w http.ResponseWriter) {
			writeJSON(w, 403, []map[string]string{{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}})
		}, LimitExceeded},
		{"a dropped connection is retryable", func(w http.ResponseWriter) {
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			_ = conn.Close()
		}, Retryable},
		{"too few results is malformed", func(w http.ResponseWriter) {
			writeJSON(w, 200, []map[string]any{{"id": licenseID(200), "success": true}})
		}, Terminal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeOrg(t)
			var n atomic.Int64
			f.handle("PATCH /composite/sobjects", func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) == 2 {
					tc.fail(w)
					return
				}
				var req struct{ Records []map[string]any }
				_ = json.NewDecoder(r.Body).Decode(&req)
				out := make([]map[string]any, len(req.Records))
				for i, rec := range req.Records {
					out[i] = map[string]any{"id": rec["id"], "success": true, "errors": []any{}}
				}
				writeJSON(w, 200, out)
			})
			c := newTestClient(t, f)
			updates := make([]RecordUpdate, 450)
			for i := range updates {
				updates[i] = RecordUpdate{SObject: LicenseObject, ID: licenseID(i), Fields: map[string]any{FieldStatus: "Active"}}
			}
			results, err := c.Update(testContext(t), updates, true)
			if err == nil || ClassOf(err) != tc.class {
				t.Fatalf("got %v (class %v), want class %v", err, ClassOf(err), tc.class)
			}
			if len(results) != 200 || results[199].ID != licenseID(199) {
				t.Fatalf("%d results, want the first chunk's 200", len(results))
			}
			if n.Load() != 2 {
				t.Fatalf("%d calls, want none after the failed chunk", n.Load())
			}
		})
	}
}

func TestUpdateRefusesBadInputBeforeAnyCall(t *testing.T) {
	f := newFakeOrg(t)
	c := newTestClient(t, f)
	cases := map[string]RecordUpdate{
		"a path in the sObject name": {SObject: "sfLma__License__c/../x", ID: licenseID(1), Fields: map[string]any{FieldSeats: 1}},
		"an id that is not an id":    {SObject: LicenseObject, ID: "a0N/../x", Fields: map[string]any{FieldSeats: 1}},
		"a reserved field name":      {SObject: LicenseObject, ID: licenseID(1), Fields: map[string]any{"attributes": 1}},
		"no fields":                  {SObject: LicenseObject, ID: licenseID(1)},
	}
	for name, u := range cases {
		t.Run(name, func(t *testing.T) {
			res, err := c.Update(testContext(t), []RecordUpdate{u}, false)
			if err == nil || res != nil {
				t.Fatalf("got %v, %v", res, err)
			}
		})
	}
	if f.count("PATCH /composite/sobjects") != 0 {
		t.Fatal("a call was made")
	}
}

func TestPatchRecord(t *testing.T) {
	f := newFakeOrg(t)
	modified := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	f.handle("PATCH /sobjects/sfLma__License__c/"+licenseID(1), func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		if h := r.Header.Get("If-Unmodified-Since"); h != "" {
			t0, err := http.ParseTime(h)
			if err != nil || t0.Before(modified) {
				writeJSON(w, 412, []map[string]string{{"errorCode": "PRECONDITION_FAILED", "message": "The requested resource has been modified"}})
				return
			}
		}
		w.WriteHeader(204)
	})
	c := newTestClient(t, f)
	ctx := testContext(t)
	if err := c.PatchRecord(ctx, LicenseObject, licenseID(1), map[string]any{FieldSeats: 10}, time.Time{}); err != nil {
		t.Fatalf("PatchRecord: %v", err)
	}
	if err := c.PatchRecord(ctx, LicenseObject, licenseID(1), map[string]any{FieldSeats: 10}, modified.Add(time.Hour)); err != nil {
		t.Fatalf("PatchRecord with a later If-Unmodified-Since: %v", err)
	}
	err := c.PatchRecord(ctx, LicenseObject, licenseID(1), map[string]any{FieldSeats: 10}, modified.Add(-time.Hour))
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 412 || !IsPreconditionFailed(err) {
		t.Fatalf("got %v, want an APIError with StatusCode 412", err)
	}
}

func TestGetRecordDescribeLimitsVersionsOrganization(t *testing.T) {
	f := newFakeOrg(t)
	f.handle("GET /sobjects/sfLma__License__c/"+licenseID(1), func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, licenseRecord(licenseID(1), 7))
	})
	f.handle("GET /sobjects/sfLma__License__c/describe", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, map[string]any{"name": LicenseObject, "label": "License", "queryable": true, "updateable": true,
			"fields": []map[string]any{{"name": FieldStatus, "type": "picklist", "updateable": true, "picklistValues": []map[string]any{{"value": "Active", "label": "Active", "active": true}}}}})
	})
	f.handle("GET /limits", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, map[string]any{"DailyApiRequests": map[string]int{"Max": 15000, "Remaining": 14990}, "DailyBulkApiBatches": map[string]int{"Max": 10, "Remaining": 9}})
	})
	f.handle("GET /services/data", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, []map[string]string{{"label": "Winter '25", "url": "/services/data/v62.0", "version": "62.0"}})
	})
	f.handle("GET /query", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, page(1, true, "", map[string]any{"Id": "00D000000000001AAA", "Name": "Acme", "OrganizationType": "Enterprise Edition",
			"IsSandbox": false, "TrialExpirationDate": nil, "InstanceName": "NA1"}))
	})
	c := newTestClient(t, f)
	ctx := testContext(t)

	var l License
	if err := c.GetRecord(ctx, LicenseObject, licenseID(1), &l); err != nil || *l.Seats != 7 {
		t.Fatalf("GetRecord: %v %+v", err, l)
	}
	if err := c.GetRecord(ctx, LicenseObject, licenseID(2), &l); !IsNotFound(err) {
		t.Fatalf("GetRecord of an unknown id: %v, want NOT_FOUND", err)
	}
	d, err := c.Describe(ctx, LicenseObject)
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	if fd, ok := d.Field(FieldStatus); !ok || fd.PicklistValues[0].Value != "Active" {
		t.Fatalf("describe: %+v", d)
	}
	_, err = c.Describe(ctx, FeatureParameterObject)
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 404 || !IsNotFound(err) {
		t.Fatalf("Describe of a missing object: %v", err)
	}
	lim, err := c.Limits(ctx)
	if err != nil || lim.DailyAPIRequests != (Limit{Max: 15000, Remaining: 14990}) || lim.All["DailyBulkApiBatches"].Max != 10 {
		t.Fatalf("Limits: %v %+v", err, lim)
	}
	vs, err := c.Versions(ctx)
	if err != nil || len(vs) != 1 || vs[0].Version != "62.0" {
		t.Fatalf("Versions: %v %+v", err, vs)
	}
	org, err := c.Organization(ctx)
	if err != nil || org.Name != "Acme" || !org.TrialExpirationDate.IsZero() {
		t.Fatalf("Organization: %v %+v", err, org)
	}
}

func TestUsageFromEveryResponse(t *testing.T) {
	f := newFakeOrg(t)
	f.handle("GET /limits", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 403, []map[string]string{{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}})
	})
	var last CallInfo
	c := newTestClient(t, f, func(cfg *Config) { cfg.OnCall = func(ci CallInfo) { last = ci } })
	f.mu.Lock()
	f.usage = "per-app-api-usage=1/100(appName=x), api-usage=15000/15000"
	f.mu.Unlock()
	_, err := c.Limits(testContext(t))
	if !IsLimitExceeded(err) {
		t.Fatalf("got %v, want LimitExceeded", err)
	}
	u, ok := c.Usage()
	if !ok || u.Used != 15000 || u.Max != 15000 || u.Remaining() != 0 || u.Fraction() != 1 || u.ObservedAt.IsZero() {
		t.Fatalf("Usage = %+v, %v", u, ok)
	}
	if last.Operation != OpLimits || last.StatusCode != 403 || !IsLimitExceeded(last.Err) || last.Usage.Used != 15000 {
		t.Fatalf("OnCall got %+v", last)
	}
}

func TestParseLimitInfo(t *testing.T) {
	cases := []struct {
		in   string
		want Usage
		ok   bool
	}{
		{"api-usage=25/15000", Usage{Used: 25, Max: 15000}, true},
		// The form Salesforce documents: parts separated by semicolons.
		{"api-usage=25/5000; per-app-api-usage=17/250(appName=sample-connected-app)",
			Usage{Used: 25, Max: 5000, PerAppUsed: 17, PerAppMax: 250, AppName: "sample-connected-app"}, true},
		// Current guides document api-bursts as the second part; unknown parts are skipped.
		{"api-usage=110018/100000; api-bursts=1/750", Usage{Used: 110018, Max: 100000}, true},
		{"api-usage=25/15000, per-app-api-usage=2/250(appName=x)", Usage{Used: 25, Max: 15000, PerAppUsed: 2, PerAppMax: 250, AppName: "x"}, true},
		{"per-app-api-usage=2/250(appName=x);api-usage=7/100", Usage{Used: 7, Max: 100, PerAppUsed: 2, PerAppMax: 250, AppName: "x"}, true},
		{" API-USAGE = 1 / 2 ", Usage{Used: 1, Max: 2}, true},
		{"api-usage=25/5000; per-app-api-usage=bad", Usage{Used: 25, Max: 5000}, true},
		{"per-app-api-usage=17/250(appName=x)", Usage{}, false},
		{"api-usage=25", Usage{}, false},
		{"api-usage=x/15000", Usage{}, false},
		{"api-usage=5/0", Usage{}, false},
		{"api-usage=-5/10", Usage{}, false},
		{"", Usage{}, false},
	}
	for _, tc := range cases {
		got, ok := parseLimitInfo(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseLimitInfo(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestUsageBindingIsTheTighterAllocation(t *testing.T) {
	cases := []struct {
		name   string
		u      Usage
		used   int
		max    int
		perApp bool
	}{
		{"no per-app allocation", Usage{Used: 10, Max: 100}, 10, 100, false},
		{"the per-app allocation has less left", Usage{Used: 10, Max: 100, PerAppUsed: 240, PerAppMax: 250}, 240, 250, true},
		{"the org has less left", Usage{Used: 99, Max: 100, PerAppUsed: 1, PerAppMax: 250}, 99, 100, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.u.Binding()
			if b.Used != tc.used || b.Max != tc.max || tc.u.PerApp() != tc.perApp {
				t.Errorf("Binding() = %d/%d (per-app %v), want %d/%d (per-app %v)", b.Used, b.Max, tc.u.PerApp(), tc.used, tc.max, tc.perApp)
			}
		})
	}
}

func TestClassOf(t *testing.T) {
	api := func(status int, code string) error { return &APIError{StatusCode: status, Code: code} }
	cases := []struct {
		name string
		err  error
		want ErrorClass
	}{
		{"a 500 is retryable", api(500, ""), Retryable},
		{"a 503 SERVER_UNAVAILABLE is retryable", api(503, CodeServerUnavailable), Retryable},
		{"UNABLE_TO_LOCK_ROW is retryable", api(400, CodeUnableToLockRow), Retryable},
		{"a per-record UNABLE_TO_LOCK_ROW is retryable", api(200, CodeUnableToLockRow), Retryable},
		{"REQUEST_LIMIT_EXCEEDED is a limit", api(403, CodeRequestLimitExceeded), LimitExceeded},
		{"the daily TotalRequests limit is a limit", &APIError{StatusCode: 403, Code: CodeRequestLimitExceeded, Message: "TotalRequests Limit exceeded."}, LimitExceeded},
		// Too many long-running calls at once: transient, not the day's allocation.
		{"the ConcurrentRequests limit is retryable", &APIError{StatusCode: 403, Code: CodeRequestLimitExceeded,
			Message: "ConcurrentRequests (Concurrent API Requests) Limit exceeded."}, Retryable},
		{"the long-transaction concurrency limit is retryable", &APIError{StatusCode: 403, Code: CodeRequestLimitExceeded,
			Message: "ConcurrentPerOrgLongTxn Limit exceeded."}, Retryable},
		{"a 401 is auth", api(401, CodeInvalidSessionID), Auth},
		{"an OAuth refusal is auth", &AuthError{StatusCode: 400, Code: "invalid_grant"}, Auth},
		{"a custom validation is validation", api(400, CodeFieldCustomValidation), Validation},
		{"a restricted picklist is validation", api(400, CodeRestrictedPicklist), Validation},
		{"a number out of range is validation", api(400, CodeNumberOutsideRange), Validation},
		{"a read-only field is validation", api(400, CodeInvalidFieldForUpdate), Validation},
		{"insufficient access is validation", api(400, CodeInsufficientAccess), Validation},
		{"an unknown field is validation", api(400, CodeInvalidField), Validation},
		{"malformed SOQL is validation", api(400, CodeMalformedQuery), Validation},
		{"an unknown object is validation", api(400, CodeInvalidType), Validation},
		{"NOT_FOUND is terminal", api(404, CodeNotFound), Terminal},
		{"an unknown 400 is terminal", api(400, "SOMETHING_NEW"), Terminal},
		{"a malformed answer is terminal", malformed("x"), Terminal},
		{"a wrapped API error keeps its class", fmt.Errorf("update: %w", fmt.Errorf("chunk: %w", api(503, ""))), Retryable},
		{"a dropped connection is retryable", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), Retryable},
		{"a client timeout is retryable", context.DeadlineExceeded, Retryable},
		{"a cancelled context is terminal", fmt.Errorf("x: %w", context.Canceled), Terminal},
		{"an unknown error is terminal", errors.New("boom"), Terminal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ClassOf(tc.err); got != tc.want {
				t.Fatalf("ClassOf(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestConnectionRefusedIsRetryable(t *testing.T) {
	f := newFakeOrg(t)
	c := newTestClient(t, f)
	f.srv.Close()
	_, err := c.Limits(testContext(t))
	if !IsRetryable(err) {
		t.Fatalf("got %v (class %v), want Retryable", err, ClassOf(err))
	}
}

func TestContextIsHonoured(t *testing.T) {
	f := newFakeOrg(t)
	release := make(chan struct{})
	f.handle("GET /limits", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) })
	c := newTestClient(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Limits(ctx)
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("got %v after %v", err, time.Since(start))
	}
}

func TestRESTRedirectIsNotFollowed(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("redirect followed to %s with Authorization %q", r.URL, r.Header.Get("Authorization"))
	}))
	defer other.Close()
	f := newFakeOrg(t)
	f.handle("GET /limits", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/limits", http.StatusFound)
	})
	c := newTestClient(t, f)
	if _, err := c.Limits(testContext(t)); err == nil {
		t.Fatal("want an error for a redirect")
	}
}

func TestUnexpectedContentEncodingIsRefused(t *testing.T) {
	f := newFakeOrg(t)
	f.handle("GET /limits", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Encoding", "br")
		w.WriteHeader(200)
		_, _ = io.WriteString(w, "\x1b\x00\x00")
	})
	c := newTestClient(t, f)
	if _, err := c.Limits(testContext(t)); !errors.Is(err, ErrMalformedResponse) {
		t.Fatalf("got %v, want ErrMalformedResponse", err)
	}
}

// Values the operator cannot read do not fail the page (Salesforce's Status picklist is not
// restricted): the record comes through, and Unreadable names the field and the value, so the engine
// can quarantine that one record and keep reading every other.
func TestQueryPassesUnreadableLicensesWithTheirReason(t *testing.T) {
	cases := map[string]struct {
		mutate func(map[string]any)
		want   string
	}{
		"an unknown status":        {func(r map[string]any) { r["sfLma__Status__c"] = "Pending Review" }, `status "Pending Review"`},
		"fractional seats":         {func(r map[string]any) { r["sfLma__Seats__c"] = 1.5 }, "seats 1.5"},
		"seats beyond the maximum": {func(r map[string]any) { r["sfLma__Seats__c"] = 1e12 }, "seats 1e+12"},
		"negative used licenses":   {func(r map[string]any) { r["sfLma__Used_Licenses__c"] = -3 }, "used licenses -3"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFakeOrg(t)
			f.handle("GET /query", func(w http.ResponseWriter, _ *http.Request) {
				odd := licenseRecord(licenseID(1), 5)
				tc.mutate(odd)
				writeJSON(w, 200, page(2, true, "", odd, licenseRecord(licenseID(2), 5)))
			})
			c := newTestClient(t, f)
			var got []License
			err := Query(testContext(t), c, "SELECT Id FROM sfLma__License__c", func(p []License) error { got = append(got, p...); return nil })
			if err != nil || len(got) != 2 {
				t.Fatalf("Query: %v with %d records, want both records", err, len(got))
			}
			if r := got[0].Unreadable(); !strings.Contains(r, tc.want) {
				t.Errorf("Unreadable() = %q, want it to name %s", r, tc.want)
			}
			if r := got[1].Unreadable(); r != "" {
				t.Errorf("the other record's Unreadable() = %q, want empty", r)
			}
		})
	}
}

func TestTLSIsVerified(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]string{"access_token": "token-1", "instance_url": "https://" + r.Host})
	}))
	defer srv.Close()
	cfg := Config{InstanceURL: srv.URL, ClientCredentials: &ClientCredentials{ClientID: testClientID, ClientSecret: testSecret}}
	_, err := New(testContext(t), cfg)
	if err == nil || ClassOf(err) != Terminal || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("New against an untrusted certificate: %v (class %v), want a Terminal certificate error", err, ClassOf(err))
	}
	// With the server's certificate trusted, https works.
	cfg.HTTPClient = srv.Client()
	if _, err := New(testContext(t), cfg); err != nil {
		t.Fatalf("New with the certificate trusted: %v", err)
	}
}

func TestHostileTokenResponses(t *testing.T) {
	cases := map[string]func(w http.ResponseWriter, base string){
		"invalid JSON":    func(w http.ResponseWriter, _ string) { w.WriteHeader(200); _, _ = io.WriteString(w, "{") },
		"no access_token": func(w http.ResponseWriter, base string) { writeJSON(w, 200, map[string]string{"instance_url": base}) },
		"a token with a CRLF": func(w http.ResponseWriter, base string) {
			writeJSON(w, 200, map[string]string{"access_token": "t\r\nX-Evil: 1", "instance_url": base})
		},
		"no instance_url": func(w http.ResponseWriter, _ string) { writeJSON(w, 200, map[string]string{"access_token": "token-1"}) },
		"a body of 2 MB": func(w http.ResponseWriter, _ string) {
			w.WriteHeader(200)
			_, _ = io.WriteString(w, strings.Repeat(" ", 2<<20))
		},
		"an instance on https": func(w http.ResponseWriter, base string) {
			writeJSON(w, 200, map[string]string{"access_token": "token-1", "instance_url": strings.Replace(base, "http:", "https:", 1)})
		},
	}
	for name, answer := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFakeOrg(t)
			f.tokenHandler = func(w http.ResponseWriter, _ *http.Request) { answer(w, f.srv.URL) }
			_, err := New(testContext(t), Config{InstanceURL: f.srv.URL, ClientCredentials: &ClientCredentials{ClientID: testClientID, ClientSecret: testSecret}})
			if err == nil || ClassOf(err) == Retryable {
				t.Fatalf("New: %v (class %v), want a non-retryable error", err, ClassOf(err))
			}
		})
	}
}
