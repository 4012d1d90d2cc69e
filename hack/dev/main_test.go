package main

import (
	"strings"
	"testing"
)

// lmosim's admin API has no authentication: make dev refuses to serve it beyond loopback, as the
// lmosim binary does, before it starts anything. (192.0.2.1 is a documentation address: nothing
// here can bind it, so the test never listens beyond loopback either.)
func TestDevRefusesANonLoopbackLmosimAddress(t *testing.T) {
	for _, addr := range []string{"192.0.2.1:0", "sim.example:8090"} {
		err := run(t.TempDir(), addr, "../../config/samples/lmosim-seed.yaml", "bin/manager")
		if err == nil || !strings.Contains(err.Error(), "--lmosim-listen") || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("run with --lmosim-listen %s: %v; want a refusal naming --lmosim-listen and loopback", addr, err)
		}
	}
}
