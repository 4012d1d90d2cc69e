package lmosim

import "testing"

// lmosim's admin API has no authentication: it listens on loopback unless its user says otherwise.
func TestCheckListenAdmitsOnlyLoopback(t *testing.T) {
	cases := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:0", true},
		{"127.0.0.1:8089", true},
		{"[::1]:8089", true},
		{"localhost:8089", true},
		{":8089", false},
		{"0.0.0.0:8089", false},
		{"[::]:8089", false},
		{"192.168.1.20:8089", false},
		{"sim.example:8089", false},
		{"no-port", false},
	}
	for _, tc := range cases {
		if err := CheckListen(tc.addr); tc.ok != (err == nil) {
			t.Errorf("CheckListen(%q) = %v, want ok=%t", tc.addr, err, tc.ok)
		}
	}
}

// A name that resolves beyond loopback is caught at the address bound.
func TestCheckBoundAdmitsOnlyLoopback(t *testing.T) {
	for url, ok := range map[string]bool{"http://127.0.0.1:8089": true, "http://[::1]:8089": true,
		"http://10.0.0.5:8089": false, "http://[::]:8089": false} {
		if err := CheckBound(url); ok != (err == nil) {
			t.Errorf("CheckBound(%q) = %v, want ok=%t", url, err, ok)
		}
	}
}
