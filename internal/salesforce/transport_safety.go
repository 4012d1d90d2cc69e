package salesforce

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"reflect"
	"strings"
	"time"
)

// InsecureLoopbackHTTPFlag is the flag, of the manager and of lmoctl, that allows plain http to a
// loopback host (lmosim in development). Without it every connection is https.
const InsecureLoopbackHTTPFlag = "--allow-insecure-loopback-http"

// CheckScheme refuses a plain-http URL unless allowInsecureLoopbackHTTP is set; whether the host is
// loopback is checked when the client is built, and the address actually dialed when it connects.
// An empty URL is left to the other checks.
func CheckScheme(rawURL string, allowInsecureLoopbackHTTP bool) error {
	if rawURL == "" {
		return nil
	}
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil {
		return fmt.Errorf("%q is not a URL", truncate(rawURL, 256))
	}
	if !strings.EqualFold(u.Scheme, "http") || allowInsecureLoopbackHTTP {
		return nil
	}
	return fmt.Errorf("plain http (%s) is refused: use https, or, for lmosim on this machine, start with %s", u.Redacted(), InsecureLoopbackHTTPFlag)
}

// lookupFunc resolves a host name to its addresses.
type lookupFunc = func(ctx context.Context, host string) ([]netip.Addr, error)

func defaultLookup(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// plainHTTPTransport is the transport for plain-http requests: base's settings, no proxy, and a dialer
// that connects only to loopback addresses. A name such as localhost is resolved here and the
// loopback address found is the one dialed, so neither a hosts file nor DNS can send the
// credentials elsewhere. A base that is not an *http.Transport (a test double) is used as it is: it
// does its own dialing, if any.
func plainHTTPTransport(base http.RoundTripper, lookup lookupFunc) http.RoundTripper {
	t, ok := base.(*http.Transport)
	if !ok {
		return base
	}
	c := t.Clone()
	c.Proxy = nil
	next := c.DialContext
	if next == nil {
		next = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	c.DialContext = loopbackDialer(next, lookup)
	return c
}

// loopbackDialer dials through next only an address that is loopback, resolving a name itself.
func loopbackDialer(next func(ctx context.Context, network, addr string) (net.Conn, error), lookup lookupFunc) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		ip, err := loopbackAddr(ctx, host, lookup)
		if err != nil {
			return nil, err
		}
		conn, err := next(ctx, network, net.JoinHostPort(ip.String(), port))
		if err != nil {
			return nil, err
		}
		if ra, ok := conn.RemoteAddr().(*net.TCPAddr); ok && !ra.IP.IsLoopback() {
			_ = conn.Close()
			return nil, fmt.Errorf("plain http to %s reached %s, which is not a loopback address", host, ra.IP)
		}
		return conn, nil
	}
}

// loopbackAddr is host's loopback address: host itself when it is an IP literal, else the first
// loopback address it resolves to.
func loopbackAddr(ctx context.Context, host string, lookup lookupFunc) (netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		if !ip.Unmap().IsLoopback() {
			return netip.Addr{}, fmt.Errorf("plain http to %s: not a loopback address", ip)
		}
		return ip, nil
	}
	addrs, err := lookup(ctx, host)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("plain http to %s: %w", host, err)
	}
	for _, a := range addrs {
		if a.Unmap().IsLoopback() {
			return a.Unmap(), nil
		}
	}
	return netip.Addr{}, fmt.Errorf("plain http to %s: it resolves to %v, not a loopback address; https is required for any other host", host, addrs)
}

// skipsVerification reports whether rt, or a transport it holds in a field however deeply (as
// middleware wrapping a transport does), is an *http.Transport that skips TLS certificate
// verification. Unexported fields are read too: a wrapper's field names are not a contract. The walk
// visits each pointer once and stops at a bounded depth.
func skipsVerification(rt http.RoundTripper) bool {
	seen := map[uintptr]bool{}
	var walk func(v reflect.Value, depth int) bool
	walk = func(v reflect.Value, depth int) bool {
		if depth > 16 {
			return false
		}
		switch v.Kind() {
		case reflect.Interface:
			if v.IsNil() {
				return false
			}
			return walk(v.Elem(), depth+1)
		case reflect.Pointer:
			if v.IsNil() || seen[v.Pointer()] {
				return false
			}
			seen[v.Pointer()] = true
			if v.Type() == reflect.TypeOf((*http.Transport)(nil)) {
				return transportSkipsVerification(v.Elem())
			}
			return walk(v.Elem(), depth+1)
		case reflect.Struct:
			if v.Type() == reflect.TypeOf(http.Transport{}) {
				return transportSkipsVerification(v)
			}
			for i := 0; i < v.NumField(); i++ {
				f := v.Field(i)
				if k := f.Kind(); (k == reflect.Interface || k == reflect.Pointer || k == reflect.Struct) && walk(f, depth+1) {
					return true
				}
			}
		}
		return false
	}
	return walk(reflect.ValueOf(rt), 0)
}

// transportSkipsVerification reads an http.Transport's TLSClientConfig.InsecureSkipVerify.
func transportSkipsVerification(t reflect.Value) bool {
	cfg := t.FieldByName("TLSClientConfig")
	if !cfg.IsValid() || cfg.IsNil() {
		return false
	}
	return cfg.Elem().FieldByName("InsecureSkipVerify").Bool()
}
