// Package salesforce is the operator's Salesforce REST client: OAuth (JWT bearer and client
// credentials) with re-authentication, paged SOQL into typed records, sObject Collections updates in
// chunks of 200, describe and limits, typed errors, and the org's API usage from every response.
//
// It is built on github.com/k-capehart/go-salesforce/v3 for the REST calls, and does the token flows
// itself so that they carry a context, use the configured transport and pin the token endpoint.
// Everything a server sends is treated as untrusted: bodies are capped, paging is bounded and
// records are checked before a caller sees them.
package salesforce

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gosf "github.com/k-capehart/go-salesforce/v3"
)

// Client talks to one org. It is safe for concurrent use. Its %v shows the instance, never a token.
type Client struct {
	s     *settings
	usage *usageTracker
	rt    *transport
	// direct carries the calls go-salesforce cannot make: the token endpoint and /services/data.
	// It never follows redirects.
	direct *http.Client
	now    func() time.Time

	authMu sync.Mutex // serializes token calls
	sess   atomic.Pointer[session]
	// userID is the user the last token acts as (see UserID).
	userID atomic.Value
}

// session is one access token wrapped in a go-salesforce client.
type session struct {
	sf  *gosf.Salesforce
	gen uint64
}

// New validates cfg and authenticates to the org (one token call). A refused credential gives an
// error for which IsAuth is true; a refused configuration one that wraps ErrInvalidConfig.
func New(ctx context.Context, cfg Config) (*Client, error) {
	s, err := validate(cfg)
	if err != nil {
		return nil, err
	}
	usage := &usageTracker{}
	c := &Client{s: s, usage: usage, now: time.Now}
	c.rt = &transport{base: s.base, plain: s.plain, usage: usage, now: c.now}
	c.direct = &http.Client{
		Transport: c.rt,
		Timeout:   s.timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	token, err := c.fetchToken(ctx)
	if err != nil {
		return nil, err
	}
	sess, err := c.newSession(token, 1)
	if err != nil {
		return nil, err
	}
	c.sess.Store(sess)
	return c, nil
}

// String describes the client without its token.
func (c *Client) String() string {
	return fmt.Sprintf("salesforce.Client{InstanceURL: %q, APIVersion: %q}", c.s.instance.String(), c.s.apiVersion)
}

// GoString is String.
func (c *Client) GoString() string { return c.String() }

// Format makes every verb print String.
func (c *Client) Format(f fmt.State, verb rune) { formatRedacted(f, verb, c.String()) }

// InstanceURL is the org's configured instance URL.
func (c *Client) InstanceURL() string { return c.s.instance.String() }

// APIVersion is the REST API version in use, e.g. "62.0".
func (c *Client) APIVersion() string { return c.s.apiVersion }

// newSession wraps an access token in a go-salesforce client that uses our transport.
func (c *Client) newSession(token string, gen uint64) (*session, error) {
	sf, err := gosf.Init(
		gosf.Creds{Domain: c.s.instance.String(), AccessToken: token},
		gosf.WithAPIVersion("v"+c.s.apiVersion),
		gosf.WithRoundTripper(c.rt),
		gosf.WithHTTPTimeout(c.s.timeout),
		gosf.WithValidateAuthentication(false),
	)
	if err != nil {
		// go-salesforce's errors here are about configuration, never the token.
		return nil, fmt.Errorf("%w: %s", ErrInvalidConfig, c.s.redactSecrets(strings.ReplaceAll(err.Error(), token, redacted)))
	}
	return &session{sf: sf, gen: gen}, nil
}

// reauth fetches a new token unless another goroutine already replaced session gen.
func (c *Client) reauth(ctx context.Context, gen uint64) error {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	if cur := c.sess.Load(); cur != nil && cur.gen != gen {
		return nil
	}
	token, err := c.fetchToken(ctx)
	if err != nil {
		return err
	}
	sess, err := c.newSession(token, gen+1)
	if err != nil {
		return err
	}
	c.sess.Store(sess)
	return nil
}

// request is one REST call. uri is relative to /services/data/vNN.N unless raw, when it is a path
// from the instance's root.
type request struct {
	method string
	uri    string
	body   []byte
	header map[string]string
	raw    bool
	// serverStart, when set, receives a time at or before the moment the server began handling the
	// successful request, by the server's own clock (see serverStartOf); zero when unknown.
	serverStart *time.Time
}

// decodeFunc reads a successful response body.
type decodeFunc func(status int, body []byte) error

// call makes one REST call, re-authenticating and retrying once if the token was refused.
func (c *Client) call(ctx context.Context, op string, req request, decode decodeFunc) error {
	for attempt := 0; ; attempt++ {
		sess := c.sess.Load()
		err := c.once(ctx, sess, op, req, decode)
		if attempt == 0 && !req.raw && isSessionExpired(err) {
			if rerr := c.reauth(ctx, sess.gen); rerr != nil {
				return rerr
			}
			continue
		}
		return err
	}
}

// isSessionExpired reports whether err is the 401 of an expired or revoked token.
func isSessionExpired(err error) bool {
	var e *APIError
	return errors.As(err, &e) && (e.StatusCode == http.StatusUnauthorized || e.Code == CodeInvalidSessionID)
}

// once makes one HTTP call and reports it to OnCall.
func (c *Client) once(ctx context.Context, sess *session, op string, req request, decode decodeFunc) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	start := c.now()
	status := 0
	defer func() { c.observe(op, status, err, start) }()

	ctx = withOperation(ctx, op)
	var resp *http.Response
	if req.raw {
		resp, err = c.doDirect(ctx, req)
	} else {
		opts := []gosf.RequestOption{withContext(ctx)}
		for k, v := range req.header {
			opts = append(opts, gosf.WithHeader(k, v))
		}
		resp, err = sess.sf.DoRequest(req.method, req.uri, req.body, opts...)
	}
	if err != nil {
		if resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
		err = unwrapTransportError(err)
		var ae *APIError
		if errors.As(err, &ae) {
			status = ae.StatusCode
		}
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	status = resp.StatusCode
	if req.serverStart != nil {
		*req.serverStart = serverStartOf(resp.Header.Get("Date"), c.now().Sub(start))
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if decode == nil {
		return nil
	}
	return decode(status, body)
}

// serverStartOf is a lower bound of the server's clock when it began handling a request: the
// response's Date header (whole seconds, so at or before the moment it was written) less the
// request's whole round trip. It is zero when the header is missing or unreadable.
func serverStartOf(date string, roundTrip time.Duration) time.Time {
	if date == "" {
		return time.Time{}
	}
	t, err := http.ParseTime(date)
	if err != nil {
		return time.Time{}
	}
	if roundTrip < 0 {
		roundTrip = 0
	}
	return t.Add(-roundTrip).UTC()
}

// doDirect sends a raw request with our own client.
func (c *Client) doDirect(ctx context.Context, req request) (*http.Response, error) {
	var body io.Reader
	if req.body != nil {
		body = strings.NewReader(string(req.body))
	}
	r, err := http.NewRequestWithContext(ctx, req.method, c.s.instance.String()+req.uri, body)
	if err != nil {
		return nil, err
	}
	r.Header.Set("Accept", "application/json")
	for k, v := range req.header {
		r.Header.Set(k, v)
	}
	resp, err := c.direct.Do(r)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// Only redirects get here (the transport turns other statuses into errors); never follow them.
		_ = resp.Body.Close()
		return nil, &APIError{StatusCode: resp.StatusCode, Message: "unexpected redirect"}
	}
	return resp, nil
}

// withContext attaches ctx to a go-salesforce request.
func withContext(ctx context.Context) gosf.RequestOption {
	return func(r *http.Request) { *r = *r.WithContext(ctx) }
}

// unwrapTransportError returns the *APIError or malformed-response error the transport produced
// without the *url.Error around it; other errors (connection, timeout, context) stay as they are.
func unwrapTransportError(err error) error {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae
	}
	var ue *url.Error
	if errors.As(err, &ue) && errors.Is(ue.Err, ErrMalformedResponse) {
		return ue.Err
	}
	return err
}

// observe reports one call to OnCall.
func (c *Client) observe(op string, status int, err error, start time.Time) {
	if c.s.onCall == nil {
		return
	}
	u, _ := c.usage.get()
	c.s.onCall(CallInfo{Operation: op, StatusCode: status, Err: err, Duration: c.now().Sub(start), Usage: u})
}
