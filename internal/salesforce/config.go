package salesforce

import (
	"crypto/rsa"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultAPIVersion is the REST API version used when Config.APIVersion is empty.
const DefaultAPIVersion = "62.0"

// defaultTimeout bounds one HTTP call of the default client.
const defaultTimeout = 30 * time.Second

// Config says how to reach and authenticate to one org. Exactly one of JWTBearer and
// ClientCredentials must be set. Its %v never shows a secret.
type Config struct {
	// InstanceURL is the org's My Domain URL, e.g. https://acme.my.salesforce.com. http is
	// accepted only for loopback hosts (127.0.0.1, ::1, localhost), and each plain-http connection
	// is dialed only to a loopback address the client resolved itself. Whether plain http is
	// allowed at all is the caller's policy (CheckScheme, the --allow-insecure-loopback-http flag).
	InstanceURL string
	// LoginURL is the host of the OAuth token endpoint, e.g. https://login.salesforce.com; "" means
	// InstanceURL. It is also the JWT audience.
	LoginURL string
	// APIVersion is the REST API version, e.g. "62.0"; "" means DefaultAPIVersion.
	APIVersion string
	// JWTBearer selects the OAuth 2.0 JWT bearer flow.
	JWTBearer *JWTBearer
	// ClientCredentials selects the OAuth 2.0 client credentials flow.
	ClientCredentials *ClientCredentials
	// ExtraHosts are hosts besides Salesforce's own (and loopback) that InstanceURL and LoginURL may
	// name: a private gateway, or lmosim on another host. Credentials are sent to no other host.
	ExtraHosts []string
	// HTTPClient carries the transport and timeout to use; nil means a default with a 30s timeout.
	// Its transport, and any transport it wraps, must verify TLS certificates. Redirects are never
	// followed. Plain-http requests go through a copy of an *http.Transport that dials only loopback
	// addresses; any other RoundTripper (a test double) is trusted to do its own dialing.
	HTTPClient *http.Client
	// OnCall, when set, is called synchronously after every HTTP call to Salesforce, from whatever
	// goroutine made it; it must be quick and safe for concurrent use.
	OnCall func(CallInfo)
	// lookupHost resolves the names of plain-http hosts; nil is the system resolver. Tests set it.
	lookupHost lookupFunc
}

// JWTBearer holds the credentials of the OAuth 2.0 JWT bearer flow. Formatting it never shows the
// private key.
type JWTBearer struct {
	// ClientID is the connected app's consumer key (the assertion's iss).
	ClientID string
	// Username is the API user's username (the assertion's sub).
	Username string
	// PrivateKeyPEM is the RSA private key (PKCS#1 or PKCS#8 PEM) that signs the assertion.
	PrivateKeyPEM []byte `json:"-"`
	// Audience is the assertion's aud: an Experience Cloud site URL when the flow runs through a site.
	// Empty means https://test.salesforce.com for a sandbox (a login or instance host under
	// test.salesforce.com or *.sandbox.my.salesforce.com) and https://login.salesforce.com otherwise,
	// as the JWT bearer flow documents; a My Domain URL is not an audience. The token is still
	// requested from the login URL.
	Audience string
}

// Audiences of the JWT bearer flow for production orgs and sandboxes.
const (
	AudienceProduction = "https://login.salesforce.com"
	AudienceSandbox    = "https://test.salesforce.com"
)

// defaultAudience is the aud for an org reached at login and instance: sandbox hosts get the
// sandbox audience.
func defaultAudience(login, instance *url.URL) string {
	for _, u := range []*url.URL{login, instance} {
		h := strings.ToLower(u.Hostname())
		if h == "test.salesforce.com" || strings.HasSuffix(h, ".sandbox.my.salesforce.com") {
			return AudienceSandbox
		}
	}
	return AudienceProduction
}

// ClientCredentials holds the credentials of the OAuth 2.0 client credentials flow. Formatting it
// never shows the secret.
type ClientCredentials struct {
	// ClientID is the connected app's consumer key.
	ClientID string
	// ClientSecret is the connected app's consumer secret.
	ClientSecret string `json:"-"`
}

const redacted = "[redacted]"

// String describes the credentials without the private key.
func (j JWTBearer) String() string {
	return fmt.Sprintf("JWTBearer{ClientID: %q, Username: %q, PrivateKeyPEM: %s}", j.ClientID, j.Username, redactedIfSet(len(j.PrivateKeyPEM) > 0))
}

// GoString is String, so %#v does not show the key either.
func (j JWTBearer) GoString() string { return j.String() }

// Format makes every verb (%v, %+v, %#v, %s, %q, %x) print String.
func (j JWTBearer) Format(f fmt.State, verb rune) { formatRedacted(f, verb, j.String()) }

// LogValue keeps the key out of structured logs.
func (j JWTBearer) LogValue() slog.Value { return slog.StringValue(j.String()) }

// String describes the credentials without the secret.
func (c ClientCredentials) String() string {
	return fmt.Sprintf("ClientCredentials{ClientID: %q, ClientSecret: %s}", c.ClientID, redactedIfSet(c.ClientSecret != ""))
}

// GoString is String, so %#v does not show the secret either.
func (c ClientCredentials) GoString() string { return c.String() }

// Format makes every verb print String.
func (c ClientCredentials) Format(f fmt.State, verb rune) { formatRedacted(f, verb, c.String()) }

// LogValue keeps the secret out of structured logs.
func (c ClientCredentials) LogValue() slog.Value { return slog.StringValue(c.String()) }

// String describes the configuration without secrets.
func (c Config) String() string {
	auth := "none"
	switch {
	case c.JWTBearer != nil:
		auth = c.JWTBearer.String()
	case c.ClientCredentials != nil:
		auth = c.ClientCredentials.String()
	}
	return fmt.Sprintf("Config{InstanceURL: %q, LoginURL: %q, APIVersion: %q, Auth: %s}", c.InstanceURL, c.LoginURL, c.APIVersion, auth)
}

// GoString is String.
func (c Config) GoString() string { return c.String() }

// Format makes every verb print String.
func (c Config) Format(f fmt.State, verb rune) { formatRedacted(f, verb, c.String()) }

// LogValue keeps secrets out of structured logs.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

func redactedIfSet(set bool) string {
	if set {
		return redacted
	}
	return `""`
}

// formatRedacted prints s for any verb, so that no verb reaches the struct's fields.
func formatRedacted(f fmt.State, verb rune, s string) {
	switch verb {
	case 'q':
		fmt.Fprintf(f, "%q", s)
	default:
		_, _ = f.Write([]byte(s))
	}
}

var apiVersionPattern = regexp.MustCompile(`^[0-9]{1,3}\.[0-9]$`)

// settings is a validated Config.
type settings struct {
	instance   *url.URL
	login      *url.URL
	apiVersion string // "62.0"
	jwtKey     *rsa.PrivateKey
	jwt        *JWTBearer
	cc         *ClientCredentials
	base       http.RoundTripper
	plain      http.RoundTripper // for plain-http requests (dials loopback addresses only); nil without them
	timeout    time.Duration
	onCall     func(CallInfo)
	secrets    []string
}

// validate checks cfg and resolves its defaults.
func validate(cfg Config) (*settings, error) {
	s := &settings{onCall: cfg.OnCall}
	var err error
	if s.instance, err = parseEndpoint("InstanceURL", cfg.InstanceURL); err != nil {
		return nil, err
	}
	s.login = s.instance
	if cfg.LoginURL != "" {
		if s.login, err = parseEndpoint("LoginURL", cfg.LoginURL); err != nil {
			return nil, err
		}
	}
	for _, e := range []struct {
		name string
		u    *url.URL
	}{{"InstanceURL", s.instance}, {"LoginURL", s.login}} {
		if err := CheckHost(e.u.Hostname(), cfg.ExtraHosts); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInvalidConfig, e.name, err)
		}
	}
	s.apiVersion = strings.TrimPrefix(cfg.APIVersion, "v")
	if s.apiVersion == "" {
		s.apiVersion = DefaultAPIVersion
	}
	if !apiVersionPattern.MatchString(s.apiVersion) {
		return nil, fmt.Errorf("%w: APIVersion %q: want a version like 62.0", ErrInvalidConfig, truncate(cfg.APIVersion, 32))
	}
	switch {
	case cfg.JWTBearer != nil && cfg.ClientCredentials != nil:
		return nil, fmt.Errorf("%w: set exactly one of JWTBearer and ClientCredentials, not both", ErrInvalidConfig)
	case cfg.JWTBearer != nil:
		j := *cfg.JWTBearer
		if j.ClientID == "" || j.Username == "" || len(j.PrivateKeyPEM) == 0 {
			return nil, fmt.Errorf("%w: JWTBearer needs ClientID, Username and PrivateKeyPEM", ErrInvalidConfig)
		}
		key, err := jwt.ParseRSAPrivateKeyFromPEM(j.PrivateKeyPEM)
		if err != nil {
			// The parse error never contains key material, but keep the message our own anyway.
			return nil, fmt.Errorf("%w: JWTBearer.PrivateKeyPEM is not an RSA private key in PEM (PKCS#1 or PKCS#8)", ErrInvalidConfig)
		}
		if j.Audience == "" {
			j.Audience = defaultAudience(s.login, s.instance)
		} else if a, err := url.Parse(j.Audience); err != nil || a.Scheme != "https" || a.Host == "" {
			return nil, fmt.Errorf("%w: JWTBearer.Audience %q: want an https URL such as https://acme.my.site.com", ErrInvalidConfig, truncate(j.Audience, 64))
		}
		s.jwt, s.jwtKey = &j, key
		s.secrets = append(s.secrets, string(j.PrivateKeyPEM))
	case cfg.ClientCredentials != nil:
		c := *cfg.ClientCredentials
		if c.ClientID == "" || c.ClientSecret == "" {
			return nil, fmt.Errorf("%w: ClientCredentials needs ClientID and ClientSecret", ErrInvalidConfig)
		}
		// Salesforce runs the client credentials flow only on the org's My Domain; the generic login
		// hosts answer "request not supported on this domain".
		if h := strings.ToLower(s.login.Hostname()); h == "login.salesforce.com" || h == "test.salesforce.com" {
			return nil, fmt.Errorf("%w: LoginURL %s: the client credentials flow runs on the org's My Domain (https://<domain>.my.salesforce.com), not on %s", ErrInvalidConfig, s.login, h)
		}
		s.cc = &c
		s.secrets = append(s.secrets, c.ClientSecret)
	default:
		return nil, fmt.Errorf("%w: set one of JWTBearer and ClientCredentials", ErrInvalidConfig)
	}
	s.timeout = defaultTimeout
	s.base = defaultTransport()
	if hc := cfg.HTTPClient; hc != nil {
		if hc.Timeout > 0 {
			s.timeout = hc.Timeout
		}
		if hc.Transport != nil {
			s.base = hc.Transport
		}
		if skipsVerification(s.base) {
			return nil, fmt.Errorf("%w: HTTPClient must verify TLS certificates (InsecureSkipVerify is set on its transport or one it wraps)", ErrInvalidConfig)
		}
	}
	if s.instance.Scheme == "http" || s.login.Scheme == "http" {
		lookup := cfg.lookupHost
		if lookup == nil {
			lookup = defaultLookup
		}
		s.plain = plainHTTPTransport(s.base, lookup)
	}
	return s, nil
}

// parseEndpoint accepts an https URL, or http for a loopback host, with no path, query or user info.
func parseEndpoint(name, raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSuffix(strings.TrimSpace(raw), "/"))
	if err != nil || u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("%w: %s %q is not an absolute URL", ErrInvalidConfig, name, truncate(raw, 256))
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("%w: %s must be a scheme and host only, like https://acme.my.salesforce.com", ErrInvalidConfig, name)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("%w: %s %q: https is required except for loopback hosts", ErrInvalidConfig, name, u.Redacted())
		}
	default:
		return nil, fmt.Errorf("%w: %s %q: scheme must be https", ErrInvalidConfig, name, u.Redacted())
	}
	u.Path = ""
	return u, nil
}

// SalesforceHost reports whether host is one of Salesforce's: login.salesforce.com,
// test.salesforce.com, My Domain hosts (*.my.salesforce.com, *.sandbox.my.salesforce.com) and other
// hosts under salesforce.com, Experience Cloud sites (*.my.site.com, *.site.com) and *.force.com.
func SalesforceHost(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	for _, domain := range []string{".salesforce.com", ".force.com", ".site.com"} {
		if strings.HasSuffix(h, domain) && len(h) > len(domain) {
			return true
		}
	}
	return false
}

// CheckHost refuses a host credentials must not go to: anything but a Salesforce host, a loopback
// host (lmosim in development) or one of extra (hosts the cluster admin allowed).
func CheckHost(host string, extra []string) error {
	if SalesforceHost(host) || isLoopback(host) {
		return nil
	}
	for _, e := range extra {
		if strings.EqualFold(strings.TrimSpace(e), host) {
			return nil
		}
	}
	return fmt.Errorf("host %q is not a Salesforce host (login.salesforce.com, test.salesforce.com, *.my.salesforce.com, *.my.site.com, *.force.com); "+
		"credentials are sent only to Salesforce unless the cluster admin allows the host (the manager's --allowed-lmo-host)", truncate(host, 256))
}

// isLoopback reports whether host is localhost or a loopback IP address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// defaultTransport is http.DefaultTransport's settings with TLS 1.2 or later and bounded waits.
func defaultTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	t.ResponseHeaderTimeout = defaultTimeout
	t.MaxIdleConnsPerHost = 10
	return t
}

// redactSecrets replaces any configured secret that a server might echo back.
func (s *settings) redactSecrets(msg string) string {
	for _, sec := range s.secrets {
		if len(sec) >= 4 {
			msg = strings.ReplaceAll(msg, sec, redacted)
		}
	}
	return msg
}
