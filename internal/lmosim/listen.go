package lmosim

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// The admin API (/__sim/) has no authentication, so whatever serves lmosim listens on loopback
// unless its user says otherwise. CheckListen judges the address asked for and CheckBound the
// address bound: a name such as localhost binds wherever it resolves.

// CheckListen refuses a listen address that is not loopback (an IP literal, or localhost).
func CheckListen(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: %w", addr, err)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.Unmap().IsLoopback() {
		return nil
	}
	return fmt.Errorf("%q is not a loopback address: lmosim's admin API has no authentication, so anyone who can reach the "+
		"address could drive the simulated org; listen on 127.0.0.1", addr)
}

// CheckBound refuses a server URL (as Start returns it) whose address is not loopback.
func CheckBound(serverURL string) error {
	u, err := url.Parse(serverURL)
	if err != nil {
		return err
	}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil && ip.Unmap().IsLoopback() {
		return nil
	}
	return fmt.Errorf("bound %s, which is not a loopback address", u.Host)
}
