package main

import (
	"os"
	"path/filepath"
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

// A certificate directory given on the command line must hold the certificate and key: the metrics
// server would otherwise fall back silently to a self-signed certificate nobody can verify.
func TestMetricsCertificateMustExistWhenGiven(t *testing.T) {
	dir := t.TempDir()
	if err := checkMetricsCert("", "tls.crt", "tls.key"); err != nil {
		t.Fatalf("no directory given: %v", err)
	}
	err := checkMetricsCert(dir, "tls.crt", "tls.key")
	if err == nil || !strings.Contains(err.Error(), "--metrics-cert-path") || !strings.Contains(err.Error(), "tls.crt") {
		t.Fatalf("an empty directory: got %v, want an error naming the flag and the file", err)
	}
	for _, f := range []string{"tls.crt", "tls.key"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := checkMetricsCert(dir, "tls.crt", "tls.key"); err != nil {
		t.Fatalf("both files present: %v", err)
	}
	if err := checkMetricsCert(dir, "tls.crt", "server.key"); err == nil || !strings.Contains(err.Error(), "server.key") {
		t.Fatalf("a missing key: got %v", err)
	}
}
