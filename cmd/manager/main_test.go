package main

import (
	"strings"
	"testing"
)

// Go's profiles are served without authentication: only a loopback address may serve them.
func TestPprofServesOnlyOnLoopback(t *testing.T) {
	cases := []struct {
		addr string
		ok   bool
	}{
		{"0", true},
		{"", true},
		{"127.0.0.1:6060", true},
		{"[::1]:6060", true},
		{":6060", false},
		{"0.0.0.0:6060", false},
		{"[::]:6060", false},
		{"10.0.0.5:6060", false},
		{"localhost:6060", false},
		{"pprof.example:6060", false},
		{"127.0.0.1", false},
	}
	for _, tc := range cases {
		t.Run(tc.addr, func(t *testing.T) {
			err := checkPprofAddress(tc.addr)
			if tc.ok != (err == nil) {
				t.Fatalf("checkPprofAddress(%q) = %v, want ok=%t", tc.addr, err, tc.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "--pprof-bind-address") {
				t.Fatalf("the error does not name the flag: %v", err)
			}
		})
	}
}
