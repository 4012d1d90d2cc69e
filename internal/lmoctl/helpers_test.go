package lmoctl

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lmo-operator/lmo-operator/internal/lmosim"
	"github.com/lmo-operator/lmo-operator/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// today is the fixed clock of every test: the golden output depends on it.
var today = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

const testSecret = "test-secret-value"

// sim is an lmosim on a loopback port seeded with testdata/seed.yaml.
type sim struct {
	*lmosim.Server
	url string
}

func startSim(t *testing.T, now func() time.Time) *sim {
	t.Helper()
	data, err := os.ReadFile("testdata/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return startSimYAML(t, data, now)
}

// startSimYAML is an lmosim on a loopback port seeded with the YAML.
func startSimYAML(t *testing.T, data []byte, now func() time.Time) *sim {
	t.Helper()
	srv, url := testenv.StartSim(t, string(data), lmosim.Options{Now: now})
	return &sim{Server: srv, url: url}
}

// stats reads /__sim/stats over HTTP, as an outside observer would.
func (s *sim) stats(t *testing.T) (calls map[string]int, written int) {
	t.Helper()
	resp, err := http.Get(s.url + "/__sim/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Calls          map[string]int `json:"calls"`
		RecordsWritten int            `json:"recordsWritten"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Calls, body.RecordsWritten
}

func (s *sim) resetStats(t *testing.T) {
	t.Helper()
	resp, err := http.Post(s.url+"/__sim/stats/reset", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// assertNoWrites fails unless lmosim served no write of any kind.
func (s *sim) assertNoWrites(t *testing.T) map[string]int {
	t.Helper()
	calls, written := s.stats(t)
	if calls["collectionsPatch"] != 0 || calls["rowPatch"] != 0 || written != 0 {
		t.Errorf("lmoctl wrote to the LMO: collectionsPatch=%d rowPatch=%d recordsWritten=%d", calls["collectionsPatch"], calls["rowPatch"], written)
	}
	return calls
}

// result is one lmoctl run.
type result struct {
	code           int
	stdout, stderr string
}

// run runs lmoctl against the sim with the client credentials in the environment and the fixed clock.
func (s *sim) run(t *testing.T, args ...string) result {
	t.Helper()
	env := map[string]string{"LMO_INSTANCE_URL": s.url, "LMO_CLIENT_ID": "lmo-operator", "LMO_CLIENT_SECRET": testSecret}
	return runEnv(t, env, nil, args...)
}

func runEnv(t *testing.T, vars map[string]string, kube KubeFunc, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), args, Env{
		Stdout: &stdout, Stderr: &stderr, Now: func() time.Time { return today },
		Getenv: func(k string) string { return vars[k] }, Kube: kube,
	})
	return result{code, stdout.String(), stderr.String()}
}

// golden compares got with testdata/NAME.golden, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs from the golden file (-want +got):\n%s", path, diff)
	}
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
