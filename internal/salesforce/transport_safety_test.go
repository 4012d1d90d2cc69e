package salesforce

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// dialRecorder stands in for the network: whatever address it is asked for, it connects to the fake
// org on 127.0.0.1, and it remembers what it was asked for. A check that happens only after dialing
// would therefore not be caught by a connection failure.
type dialRecorder struct {
	target string
	mu     sync.Mutex
	asked  []string
}

func (d *dialRecorder) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.asked = append(d.asked, addr)
	d.mu.Unlock()
	var nd net.Dialer
	return nd.DialContext(ctx, network, d.target)
}

func (d *dialRecorder) addresses() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.asked...)
}

func TestPlainHTTPReachesOnlyLoopbackAddresses(t *testing.T) {
	cases := []struct {
		name     string
		resolves []string
		wantErr  bool
	}{
		{"localhost resolving to a remote address is refused before dialing", []string{"192.0.2.10"}, true},
		{"localhost resolving to a private address is refused before dialing", []string{"10.1.2.3"}, true},
		{"localhost resolving to a loopback address is dialed at that address", []string{"127.0.0.1"}, false},
		{"only the loopback address of a mixed answer is dialed", []string{"198.51.100.4", "127.0.0.1"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeOrg(t)
			port := f.srv.Listener.Addr().(*net.TCPAddr).Port
			instance := "http://localhost:" + strconv.Itoa(port)
			f.instanceURL = instance
			rec := &dialRecorder{target: f.srv.Listener.Addr().String()}
			var lookups []string
			cfg := Config{
				InstanceURL:       instance,
				ClientCredentials: &ClientCredentials{ClientID: testClientID, ClientSecret: testSecret},
				HTTPClient:        &http.Client{Transport: &http.Transport{DialContext: rec.dial}},
				lookupHost: func(_ context.Context, host string) ([]netip.Addr, error) {
					lookups = append(lookups, host)
					var out []netip.Addr
					for _, a := range tc.resolves {
						out = append(out, netip.MustParseAddr(a))
					}
					return out, nil
				},
			}
			_, err := New(testContext(t), cfg)
			if len(lookups) == 0 || lookups[0] != "localhost" {
				t.Fatalf("the name was not resolved by the client before dialing: lookups %q", lookups)
			}
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), "not a loopback address") {
					t.Fatalf("New: got %v, want a refusal naming the non-loopback address", err)
				}
				if strings.Contains(err.Error(), testSecret) {
					t.Fatalf("error leaks the secret: %v", err)
				}
				if got := rec.addresses(); len(got) != 0 {
					t.Fatalf("dialed %q for a name that resolves to a non-loopback address", got)
				}
				if n := f.count("token"); n != 0 {
					t.Fatalf("the token endpoint got %d requests", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			want := "127.0.0.1:" + strconv.Itoa(port)
			for _, a := range rec.addresses() {
				if a != want {
					t.Fatalf("dialed %q, want only the checked address %q", a, want)
				}
			}
		})
	}
}

func TestPlainHTTPToALoopbackLiteralIsDialedDirectly(t *testing.T) {
	f := newFakeOrg(t)
	rec := &dialRecorder{target: f.srv.Listener.Addr().String()}
	cfg := Config{
		InstanceURL:       f.srv.URL,
		ClientCredentials: &ClientCredentials{ClientID: testClientID, ClientSecret: testSecret},
		HTTPClient:        &http.Client{Transport: &http.Transport{DialContext: rec.dial}},
		lookupHost: func(context.Context, string) ([]netip.Addr, error) {
			return nil, errors.New("an IP literal must not be looked up")
		},
	}
	if _, err := New(testContext(t), cfg); err != nil {
		t.Fatalf("New: %v", err)
	}
	if got := rec.addresses(); len(got) == 0 || got[0] != f.srv.Listener.Addr().String() {
		t.Fatalf("dialed %q, want %q", got, f.srv.Listener.Addr().String())
	}
}

// wrappingTransport is a RoundTripper that hands every request to another, as tracing and metrics
// middleware do.
type wrappingTransport struct {
	next http.RoundTripper
}

func (w *wrappingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return w.next.RoundTrip(r)
}

// doublyWrapped hides the transport two levels down, behind an unexported pointer field.
type doublyWrapped struct {
	label string
	inner *wrappingTransport
}

func (d doublyWrapped) RoundTrip(r *http.Request) (*http.Response, error) {
	return d.inner.RoundTrip(r)
}

func TestInsecureSkipVerifyIsFoundThroughWrappers(t *testing.T) {
	insecure := func() *http.Transport {
		return &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	}
	secure := func() *http.Transport {
		return &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}
	}
	cyclic := &wrappingTransport{}
	cyclic.next = cyclic
	cases := []struct {
		name    string
		rt      http.RoundTripper
		refused bool
	}{
		{"a transport that skips verification", insecure(), true},
		{"a wrapper around a transport that skips verification", &wrappingTransport{next: insecure()}, true},
		{"two wrappers, by value and by pointer, around one that skips verification",
			doublyWrapped{label: "metrics", inner: &wrappingTransport{next: insecure()}}, true},
		{"a wrapper around a verifying transport", &wrappingTransport{next: secure()}, false},
		{"a wrapper around nothing", &wrappingTransport{}, false},
		{"a wrapper that wraps itself", cyclic, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := validate(Config{InstanceURL: "https://acme.my.salesforce.com",
				ClientCredentials: &ClientCredentials{ClientID: testClientID, ClientSecret: testSecret},
				HTTPClient:        &http.Client{Transport: tc.rt}})
			if tc.refused {
				if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "InsecureSkipVerify") {
					t.Fatalf("validate: got %v, want a refusal naming InsecureSkipVerify", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("validate: %v", err)
			}
		})
	}
}

func TestCheckScheme(t *testing.T) {
	cases := []struct {
		name  string
		url   string
		allow bool
		ok    bool
	}{
		{"https needs no permission", "https://acme.my.salesforce.com", false, true},
		{"plain http to loopback is refused by default", "http://127.0.0.1:8089", false, false},
		{"plain http to localhost is refused by default", "http://localhost:8089", false, false},
		{"plain http to loopback is allowed when asked for", "http://127.0.0.1:8089", true, true},
		{"an empty URL is left to other checks", "", false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckScheme(tc.url, tc.allow)
			if tc.ok != (err == nil) {
				t.Fatalf("CheckScheme(%q, %t) = %v", tc.url, tc.allow, err)
			}
			if err != nil && !strings.Contains(err.Error(), "--allow-insecure-loopback-http") {
				t.Fatalf("the refusal does not name the flag that allows it: %v", err)
			}
		})
	}
}
