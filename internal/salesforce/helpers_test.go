package salesforce

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	testClientID = "3MVG9testclientid"
	testSecret   = "s3cr3t-client-secret-value"
)

// fakeOrg is a minimal Salesforce on a loopback port: a token endpoint that hands out numbered
// tokens and REST handlers that tests install per path.
type fakeOrg struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	tokens atomic.Int64
	// minToken is the lowest token number the REST handlers accept.
	minToken int64
	// tokenHandler replaces the default token endpoint when set.
	tokenHandler http.HandlerFunc
	// instanceURL overrides the instance_url the token endpoint returns.
	instanceURL string
	routes      map[string]http.HandlerFunc
	calls       map[string]int
	usage       string
}

func newFakeOrg(t *testing.T) *fakeOrg {
	t.Helper()
	f := &fakeOrg{t: t, routes: map[string]http.HandlerFunc{}, calls: map[string]int{}, usage: "api-usage=10/15000"}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// handle installs a handler for "METHOD /path" (path after /services/data/v62.0, or absolute).
func (f *fakeOrg) handle(key string, h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[key] = h
}

func (f *fakeOrg) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[key]
}

// expireTokens makes every token issued so far invalid.
func (f *fakeOrg) expireTokens() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.minToken = f.tokens.Load() + 1
}

func (f *fakeOrg) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	usage := f.usage
	f.mu.Unlock()
	if usage != "" {
		w.Header().Set("Sforce-Limit-Info", usage)
	}
	if r.URL.Path == "/services/oauth2/token" {
		f.mu.Lock()
		f.calls["token"]++
		th := f.tokenHandler
		f.mu.Unlock()
		if th != nil {
			th(w, r)
			return
		}
		f.defaultToken(w, r)
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/services/data/v62.0")
	key := r.Method + " " + path
	f.mu.Lock()
	h, ok := f.routes[key]
	if !ok {
		// Allow prefix routes like "GET /query/".
		for k, v := range f.routes {
			if strings.HasSuffix(k, "/") && strings.HasPrefix(key, k) {
				h, ok, key = v, true, k
				break
			}
		}
	}
	f.calls[key]++
	minToken := f.minToken
	f.mu.Unlock()
	if r.URL.Path != "/services/data" {
		var n int64
		_, err := fmt.Sscanf(r.Header.Get("Authorization"), "Bearer token-%d", &n)
		if err != nil || n < minToken {
			writeJSON(w, 401, []map[string]any{{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}})
			return
		}
	}
	if !ok {
		writeJSON(w, 404, []map[string]any{{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}})
		return
	}
	h(w, r)
}

func (f *fakeOrg) defaultToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, 400, map[string]string{"error": "invalid_request", "error_description": "bad form"})
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "client_credentials":
		if r.PostForm.Get("client_id") != testClientID || r.PostForm.Get("client_secret") != testSecret {
			writeJSON(w, 400, map[string]string{"error": "invalid_client", "error_description": "invalid client credentials"})
			return
		}
	case grantJWTBearer:
		if r.PostForm.Get("assertion") == "" {
			writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": "no assertion"})
			return
		}
	default:
		writeJSON(w, 400, map[string]string{"error": "unsupported_grant_type", "error_description": "grant type not supported"})
		return
	}
	n := f.tokens.Add(1)
	inst := f.srv.URL
	f.mu.Lock()
	if f.instanceURL != "" {
		inst = f.instanceURL
	}
	f.mu.Unlock()
	writeJSON(w, 200, map[string]string{"access_token": fmt.Sprintf("token-%d", n), "instance_url": inst, "token_type": "Bearer"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// newTestClient returns a client-credentials client of f.
func newTestClient(t *testing.T, f *fakeOrg, mutate ...func(*Config)) *Client {
	t.Helper()
	cfg := Config{InstanceURL: f.srv.URL, ClientCredentials: &ClientCredentials{ClientID: testClientID, ClientSecret: testSecret}}
	for _, m := range mutate {
		m(&cfg)
	}
	c, err := New(testContext(t), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// testContext is bounded so that no test hangs.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// testKey is one RSA key for the whole test binary.
var testKey = sync.OnceValues(func() (*rsa.PrivateKey, []byte) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err)
	}
	return k, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
})

// page builds a query page body.
func page(total int, done bool, next string, records ...map[string]any) map[string]any {
	p := map[string]any{"totalSize": total, "done": done, "records": records}
	if records == nil {
		p["records"] = []any{}
	}
	if next != "" {
		p["nextRecordsUrl"] = next
	}
	return p
}

func licenseRecord(id string, seats float64) map[string]any {
	return map[string]any{
		"attributes":       map[string]string{"type": LicenseObject, "url": "/services/data/v62.0/sobjects/sfLma__License__c/" + id},
		"Id":               id,
		"sfLma__Seats__c":  seats,
		"sfLma__Status__c": "Active",
		"SystemModstamp":   "2026-11-23T10:00:00.000+0000",
	}
}

// licenseID makes the n-th 18-character license id.
func licenseID(n int) string { return fmt.Sprintf("a0N%012dAAA", n) }
