package lmosim

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	grantClientCredentials = "client_credentials"
	grantJWTBearer         = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	// maxAssertionLifetime is how far ahead a JWT bearer assertion's exp may be, plus clock skew.
	maxAssertionLifetime = 3*time.Minute + 30*time.Second
)

// client is one seeded OAuth client and its API user.
type client struct {
	id       string
	secret   string
	username string
	userID   string
	key      *rsa.PublicKey
}

// session is one issued access token.
type session struct {
	token  string
	client *client
	issued time.Time
	expiry time.Time
}

// authState holds clients and sessions.
type authState struct {
	mu            sync.Mutex
	clients       map[string]*client
	sessions      map[string]*session
	revokedBefore time.Time
	orgID         string
}

func (a *authState) init(seed *Seed, st *store, now func() time.Time) error {
	a.clients = map[string]*client{}
	a.sessions = map[string]*session{}
	a.orgID = st.org.ID
	for _, c := range seed.Clients {
		cl := &client{id: c.ClientID, secret: c.ClientSecret, username: c.Username}
		if cl.username == "" {
			cl.username = c.ClientID + "@lmosim.invalid"
		}
		for _, u := range st.users {
			if u.Username == cl.username {
				cl.userID = u.ID
			}
		}
		if cl.userID == "" { // a client added after the state file was written
			name := c.Name
			if name == "" {
				name = c.ClientID
			}
			t := secondStamp(now())
			u := &userRec{ID: st.newID(prefixUser), Name: name, Username: cl.username,
				audit: audit{Created: t, Modified: t, Modstamp: t}}
			st.users = append(st.users, u)
			st.add(u)
			cl.userID = u.ID
		}
		if c.Certificate != "" {
			key, err := parseCertificateKey(c.Certificate)
			if err != nil {
				return fmt.Errorf("client %s: %w", c.ClientID, err)
			}
			cl.key = key
		}
		a.clients[c.ClientID] = cl
	}
	return nil
}

// parseCertificateKey reads the RSA public key of a PEM certificate (or a PEM public key).
func parseCertificateKey(pemText string) (*rsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	switch block.Type {
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		key, ok := cert.PublicKey.(*rsa.PublicKey)
		if !ok {
			return nil, errors.New("the certificate's key is not RSA")
		}
		return key, nil
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		key, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, errors.New("the key is not RSA")
		}
		return key, nil
	}
	return nil, fmt.Errorf("unexpected PEM block %q", block.Type)
}

// session finds the live session of a request's bearer token.
func (a *authState) session(r *http.Request, now time.Time, maxAge time.Duration) *session {
	h := r.Header.Get("Authorization")
	var token string
	for _, prefix := range []string{"Bearer ", "OAuth "} {
		if len(h) > len(prefix) && strings.EqualFold(h[:len(prefix)], prefix) {
			token = strings.TrimSpace(h[len(prefix):])
		}
	}
	if token == "" {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	sess := a.sessions[token]
	if sess == nil {
		return nil
	}
	if !now.Before(sess.expiry) || sess.issued.Before(a.revokedBefore) || (maxAge > 0 && now.Sub(sess.issued) >= maxAge) {
		delete(a.sessions, token)
		return nil
	}
	return sess
}

// revokeAll expires every token issued so far.
func (a *authState) revokeAll(now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.revokedBefore = now.Add(time.Nanosecond)
	clear(a.sessions)
}

func (a *authState) issue(c *client, now time.Time, lifetime time.Duration) *session {
	b := make([]byte, 48)
	_, _ = rand.Read(b)
	token := a.orgID[:15] + "!" + base64.RawURLEncoding.EncodeToString(b)
	sess := &session{token: token, client: c, issued: now, expiry: now.Add(lifetime)}
	a.mu.Lock()
	defer a.mu.Unlock()
	// Drop expired sessions now and then so a long-running simulator does not grow without bound.
	if len(a.sessions) > 1000 {
		for k, s := range a.sessions {
			if !now.Before(s.expiry) {
				delete(a.sessions, k)
			}
		}
	}
	a.sessions[token] = sess
	return sess
}

func oauthError(w http.ResponseWriter, code, desc string) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": code, "error_description": desc})
}

// serveToken is POST /services/oauth2/token.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.fireFaults(w, r, opToken); !ok {
		return
	}
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "HTTP Method '"+r.Method+"' not allowed. Allowed are POST")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		oauthError(w, "invalid_request", "the request body could not be parsed")
		return
	}
	now := s.now()
	var c *client
	switch r.PostForm.Get("grant_type") {
	case grantClientCredentials:
		c = s.auth.clients[r.PostForm.Get("client_id")]
		secret := r.PostForm.Get("client_secret")
		if c == nil || c.secret == "" || !hmac.Equal([]byte(c.secret), []byte(secret)) {
			oauthError(w, "invalid_client", "invalid client credentials")
			return
		}
	case grantJWTBearer:
		var code, desc string
		c, code, desc = s.verifyAssertion(r, r.PostForm.Get("assertion"), now)
		if c == nil {
			oauthError(w, code, desc)
			return
		}
	case "":
		oauthError(w, "unsupported_grant_type", "grant type not supported")
		return
	default:
		oauthError(w, "unsupported_grant_type", "grant type not supported")
		return
	}
	sess := s.auth.issue(c, now, s.tokenLifetime)
	base := s.baseURLFor(r)
	issued := strconv.FormatInt(now.UnixMilli(), 10)
	id := base + "/id/" + s.auth.orgID + "/" + c.userID
	mac := hmac.New(sha256.New, s.signKey)
	mac.Write([]byte(id + issued))
	writeJSON(w, http.StatusOK, map[string]string{
		"access_token": sess.token,
		"instance_url": base,
		"id":           id,
		"token_type":   "Bearer",
		"issued_at":    issued,
		"signature":    base64.StdEncoding.EncodeToString(mac.Sum(nil)),
		"scope":        "api",
	})
}

// verifyAssertion checks a JWT bearer assertion: RS256 signature by the client's certificate,
// sub = the client's username, aud = login.salesforce.com, test.salesforce.com (sandbox) or a site
// URL, exp in the future and at most 3 minutes ahead.
func (s *Server) verifyAssertion(r *http.Request, assertion string, now time.Time) (*client, string, string) {
	if assertion == "" {
		return nil, "invalid_grant", "invalid assertion"
	}
	claims := jwt.MapClaims{}
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation(), jwt.WithJSONNumber())
	var c *client
	_, err := parser.ParseWithClaims(assertion, claims, func(t *jwt.Token) (any, error) {
		iss, _ := t.Claims.(jwt.MapClaims)["iss"].(string)
		c = s.auth.clients[iss]
		if c == nil {
			return nil, errUnknownClient
		}
		if c.key == nil {
			return nil, errors.New("client has no certificate")
		}
		return c.key, nil
	})
	switch {
	case errors.Is(err, errUnknownClient):
		return nil, "invalid_client", "invalid client credentials"
	case err != nil:
		return nil, "invalid_grant", "invalid assertion"
	}
	if sub, _ := claims["sub"].(string); sub != c.username {
		return nil, "invalid_grant", "user hasn't approved this consumer"
	}
	if !s.audienceOK(claims["aud"]) {
		return nil, "invalid_grant", "audience is invalid"
	}
	exp, ok := numericClaim(claims["exp"])
	if !ok {
		return nil, "invalid_grant", "invalid assertion"
	}
	if !time.Unix(exp, 0).After(now) {
		return nil, "invalid_grant", "expired authorization code"
	}
	if time.Unix(exp, 0).After(now.Add(maxAssertionLifetime)) {
		return nil, "invalid_grant", "invalid assertion: exp is more than 3 minutes in the future"
	}
	return c, "", ""
}

var errUnknownClient = errors.New("unknown client")

// numericClaim reads a NumericDate that clients send as a number or, like go-salesforce, a string.
func numericClaim(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return int64(f), err == nil
	case float64:
		return int64(x), true
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return int64(f), err == nil
	}
	return 0, false
}

// audienceOK checks a JWT bearer assertion's aud the way Salesforce's OAuth 2.0 JWT bearer flow
// documents it: a single string, https://login.salesforce.com for a production org,
// https://test.salesforce.com for a sandbox, or an Experience Cloud site URL of the org. A My Domain
// or instance URL is not an audience, and neither is an array.
func (s *Server) audienceOK(aud any) bool {
	a, ok := aud.(string)
	if !ok {
		return false
	}
	a = strings.TrimSuffix(a, "/")
	s.mu.RLock()
	sandbox := s.st.org.IsSandbox
	s.mu.RUnlock()
	if sandbox && a == "https://test.salesforce.com" || !sandbox && a == "https://login.salesforce.com" {
		return true
	}
	return slices.Contains(s.siteURLs, a)
}
