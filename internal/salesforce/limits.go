package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Body caps: a hostile or broken server gets an error, never the process's memory.
const (
	// maxBodyBytes caps any successful REST response body.
	maxBodyBytes = 32 << 20
	// maxErrorBodyBytes caps the body of an error response and of the token response.
	maxErrorBodyBytes = 1 << 20
)

// limitInfoHeader carries the org's API usage on every response.
const limitInfoHeader = "Sforce-Limit-Info"

// parseLimitInfo reads a Sforce-Limit-Info header value. Salesforce separates its parts with
// semicolons ("api-usage=25/5000; per-app-api-usage=17/250(appName=sample-connected-app)"); commas
// are accepted too. api-usage is the org's daily allocation and is required; per-app-api-usage is
// the connected app's own allocation, present when the org set one.
func parseLimitInfo(v string) (Usage, bool) {
	var u Usage
	org := false
	for part := range strings.FieldsFuncSeq(v, func(r rune) bool { return r == ';' || r == ',' }) {
		name, val, found := strings.Cut(strings.TrimSpace(part), "=")
		if !found {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "api-usage":
			used, m, ok := usedOfMax(val)
			if !ok {
				return Usage{}, false
			}
			u.Used, u.Max, org = used, m, true
		case "per-app-api-usage":
			val, app, _ := strings.Cut(val, "(")
			used, m, ok := usedOfMax(val)
			if !ok {
				continue
			}
			u.PerAppUsed, u.PerAppMax = used, m
			if name, ok := strings.CutPrefix(strings.TrimSpace(app), "appName="); ok {
				u.AppName = strings.TrimSuffix(name, ")")
			}
		}
	}
	if !org {
		return Usage{}, false
	}
	return u, true
}

// usedOfMax reads "USED/MAX".
func usedOfMax(v string) (used, maxCalls int, ok bool) {
	u, m, found := strings.Cut(strings.TrimSpace(v), "/")
	if !found {
		return 0, 0, false
	}
	ui, err1 := strconv.Atoi(strings.TrimSpace(u))
	mi, err2 := strconv.Atoi(strings.TrimSpace(m))
	if err1 != nil || err2 != nil || ui < 0 || mi <= 0 {
		return 0, 0, false
	}
	return ui, mi, true
}

// usageTracker holds the latest observed Usage.
type usageTracker struct {
	mu    sync.Mutex
	usage Usage
	seen  bool
}

func (t *usageTracker) observe(header string, at time.Time) {
	u, ok := parseLimitInfo(header)
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	// Responses of concurrent calls can arrive out of order; keep the newest observation.
	if t.seen && at.Before(t.usage.ObservedAt) {
		return
	}
	u.ObservedAt = at
	t.usage = u
	t.seen = true
}

func (t *usageTracker) get() (Usage, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.usage, t.seen
}

// callKey marks a request's context with its operation; REST operations get their non-2xx
// responses turned into *APIError by the transport.
type callKey struct{}

func withOperation(ctx context.Context, op string) context.Context {
	return context.WithValue(ctx, callKey{}, op)
}

func operationOf(ctx context.Context) string {
	op, _ := ctx.Value(callKey{}).(string)
	return op
}

// transport is the round tripper under every call: it records Sforce-Limit-Info, caps response
// bodies, and decodes Salesforce error bodies into *APIError for REST calls (so that go-salesforce,
// which would otherwise swallow them into untyped errors, passes them through).
type transport struct {
	base http.RoundTripper
	// plain carries plain-http requests (loopback only); nil means base.
	plain http.RoundTripper
	usage *usageTracker
	now   func() time.Time
}

var _ http.RoundTripper = (*transport)(nil)

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	rt := t.base
	if req.URL.Scheme == "http" {
		if t.plain == nil {
			// Only a configured plain-http endpoint has a plain transport; nothing else may use one.
			return nil, fmt.Errorf("salesforce: refusing plain http to %s: the configured endpoints are https", req.URL.Host)
		}
		rt = t.plain
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	t.usage.observe(resp.Header.Get(limitInfoHeader), t.now())
	op := operationOf(req.Context())
	rest := op != "" && op != OpToken
	bodyCap := int64(maxBodyBytes)
	if !rest || resp.StatusCode < 200 || resp.StatusCode > 299 {
		bodyCap = maxErrorBodyBytes
	}
	if resp.ContentLength > bodyCap {
		_ = resp.Body.Close()
		return nil, malformed("response body of %d bytes exceeds the %d byte cap", resp.ContentLength, bodyCap)
	}
	if ce := resp.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		// We never ask for compression ourselves (the transport decodes what it asked for and drops
		// the header), so an encoded body here could be a decompression bomb for go-salesforce.
		_ = resp.Body.Close()
		return nil, malformed("unexpected Content-Encoding %q", truncate(ce, 32))
	}
	resp.Body = &cappedBody{rc: resp.Body, left: bodyCap, cap: bodyCap}
	if rest && (resp.StatusCode < 200 || resp.StatusCode > 299) {
		body, rerr := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if rerr != nil && !errors.Is(rerr, ErrMalformedResponse) {
			return nil, rerr
		}
		return nil, decodeAPIError(resp.StatusCode, body)
	}
	return resp, nil
}

// cappedBody fails reads past cap bytes with ErrMalformedResponse.
type cappedBody struct {
	rc   io.ReadCloser
	left int64
	cap  int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Tell a body that ends exactly at the cap from one that goes on.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n == 0 {
			return 0, err
		}
		return 0, malformed("response body exceeds the %d byte cap", b.cap)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *cappedBody) Close() error { return b.rc.Close() }

// Limits is the part of `GET /limits` the operator uses.
type Limits struct {
	// DailyAPIRequests is the org's rolling 24-hour API request allocation.
	DailyAPIRequests Limit `json:"DailyApiRequests"`
	// All holds every limit the org reported, by name.
	All map[string]Limit `json:"-"`
}

// Limit is one entry of `GET /limits`.
type Limit struct {
	// Max is the allocation.
	Max int `json:"Max"`
	// Remaining is what is left of it.
	Remaining int `json:"Remaining"`
}

// Limits reads the org's limits (`GET /limits`).
func (c *Client) Limits(ctx context.Context) (Limits, error) {
	var out Limits
	err := c.call(ctx, OpLimits, request{method: http.MethodGet, uri: "/limits"}, func(_ int, body []byte) error {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(body, &raw); err != nil {
			return malformed("limits: %v", err)
		}
		out.All = make(map[string]Limit, len(raw))
		for name, v := range raw {
			var l Limit
			if err := json.Unmarshal(v, &l); err != nil {
				// Some entries hold nested per-app limits; only the top-level numbers matter.
				continue
			}
			out.All[name] = l
		}
		d, ok := out.All["DailyApiRequests"]
		if !ok {
			return malformed("limits: no DailyApiRequests")
		}
		if d.Max < 0 || d.Remaining < 0 {
			return malformed("limits: negative DailyApiRequests %d/%d", d.Remaining, d.Max)
		}
		out.DailyAPIRequests = d
		return nil
	})
	if err != nil {
		return Limits{}, fmt.Errorf("limits: %w", err)
	}
	return out, nil
}

// Usage returns the API usage of the latest response that carried Sforce-Limit-Info, and false
// when none has yet.
func (c *Client) Usage() (Usage, bool) { return c.usage.get() }
