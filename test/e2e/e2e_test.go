// Package e2e runs the built binaries the way a user does: a control plane, lmosim, kubectl apply
// of the CRDs and YAML, the manager, and kubectl wait. Run it with `make test-e2e`, which builds
// bin/manager and bin/lmosim first.
package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lmo-operator/lmo-operator/internal/salesforce"
	"github.com/lmo-operator/lmo-operator/internal/testenv"
)

func TestApplyWaitAndCheckTheRecord(t *testing.T) {
	root := testenv.Root()
	for _, bin := range []string{"manager", "lmosim", "lmoctl"} {
		testenv.Binary(t, bin)
	}
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Fatal("kubectl is required")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()

	simURL := startLMOSim(t)
	kubeconfig := testenv.StartControlPlane(t, false).Kubeconfig(t, "e2e-admin", dir)
	kubectl := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", kubeconfig}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	kubectl("apply", "--server-side", "-k", filepath.Join(root, "config", "crd"))
	kubectl("wait", "--for=condition=Established", "crd/licenses.licensing.lmo-operator.dev", "--timeout=60s")
	kubectl("create", "namespace", "acme")
	kubectl("-n", "acme", "create", "secret", "generic", "acme-lmo-client",
		"--from-literal=client-id=lmo-operator", "--from-literal=client-secret=dev-secret-change-me")
	manifests := filepath.Join(dir, "acme.yaml")
	if err := os.WriteFile(manifests, []byte(fmt.Sprintf(acmeYAML, simURL)), 0o600); err != nil {
		t.Fatal(err)
	}
	kubectl("-n", "acme", "apply", "-f", manifests)

	metricsAddr := freeAddr(t)
	startNamedManager(t, "manager", kubeconfig, "--metrics-bind-address", metricsAddr, "--metrics-secure=false")
	kubectl("-n", "acme", "wait", "--for=condition=Ready", "licensemanagementorg/acme-lmo", "--timeout=90s")
	kubectl("-n", "acme", "wait", "--for=condition=Ready", "license/globex", "license/initech", "--timeout=90s")

	reader, err := testenv.AdminClient(ctx, simURL, testenv.AdminSecret)
	if err != nil {
		t.Fatal(err)
	}
	var recs []salesforce.License
	err = salesforce.Query(ctx, reader, "SELECT "+salesforce.LicenseFields+" FROM sfLma__License__c WHERE sfLma__Subscriber_Org_ID__c = '00D5g000004XyZ1AAA'",
		func(p []salesforce.License) error { recs = append(recs, p...); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Seats == nil || *recs[0].Seats != 75 || recs[0].Expiration.String() != "2028-01-31" {
		t.Fatalf("the LMO record was not written as the spec asks: %+v", recs)
	}
	out := kubectl("-n", "acme", "get", "licenses", "globex")
	if !strings.Contains(out, "75") || !strings.Contains(out, "True") {
		t.Fatalf("kubectl get does not show the synced license:\n%s", out)
	}
	desc := kubectl("-n", "acme", "describe", "license", "globex")
	if !strings.Contains(desc, "LicenseWritten") || !strings.Contains(desc, "seats 50 → 75") {
		t.Fatalf("kubectl describe shows no write event:\n%s", desc)
	}

	// The metrics endpoint shows the calls, the write and the install base.
	var all []salesforce.License
	if err := salesforce.Query(ctx, reader, "SELECT "+salesforce.LicenseFields+" FROM sfLma__License__c",
		func(p []salesforce.License) error { all = append(all, p...); return nil }); err != nil {
		t.Fatal(err)
	}
	active := 0
	for _, l := range all {
		if l.Status == "Active" && l.PackageID() == "033000000000001AAA" {
			active++
		}
	}
	lmo := `lmo="acme/acme-lmo"`
	want := map[string]func(float64) bool{
		`lmo_api_calls_total{` + lmo + `,operation="token",result="success"}`:            func(v float64) bool { return v == 1 },
		`lmo_api_calls_total{` + lmo + `,operation="collectionsPatch",result="success"}`: func(v float64) bool { return v == 1 },
		`lmo_api_calls_total{` + lmo + `,operation="composite",result="success"}`:        func(v float64) bool { return v >= 1 },
		`lmo_records_written_total{` + lmo + `,result="success"}`:                        func(v float64) bool { return v == 1 },
		`lmo_licenses{` + lmo + `,package="033000000000001AAA",status="Active"}`:         func(v float64) bool { return int(v) == active },
		`lmo_up{` + lmo + `}`: func(v float64) bool { return v == 1 },
	}
	var series map[string]float64
	deadline := time.Now().Add(30 * time.Second)
	for {
		series = scrape(t, "http://"+metricsAddr+"/metrics")
		missing := ""
		for name, ok := range want {
			if v, found := series[name]; !found || !ok(v) {
				missing += fmt.Sprintf("\n  %s = %v (found %v)", name, v, found)
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics do not show the sync:%s", missing)
		}
		time.Sleep(time.Second)
	}

	// lmoctl check reads the same cluster: its version, the three CRDs and the LMO pass; the manager
	// runs here as a process, not as a Deployment, so that check fails and the exit status is 1.
	cmd := exec.CommandContext(ctx, filepath.Join(root, "bin", "lmoctl"), "check", "--kubeconfig", kubeconfig, "-o", "json")
	checkOut, err := cmd.Output()
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("lmoctl check exited %d (%v), want 1 for the missing Deployment:\n%s", code, err, checkOut)
	}
	var check struct {
		Checks []struct{ Name, Result string } `json:"checks"`
	}
	if err := json.Unmarshal(checkOut, &check); err != nil {
		t.Fatalf("lmoctl check -o json: %v\n%s", err, checkOut)
	}
	got := map[string]string{}
	for _, c := range check.Checks {
		got[c.Name] = c.Result
	}
	for name, want := range map[string]string{
		"Kubernetes version":                                   "pass",
		"CRD licenses.licensing.lmo-operator.dev":              "pass",
		"CRD managedpackages.licensing.lmo-operator.dev":       "pass",
		"CRD licensemanagementorgs.licensing.lmo-operator.dev": "pass",
		"manager Deployment":                                   "fail",
		"LicenseManagementOrg acme/acme-lmo":                   "pass",
	} {
		if got[name] != want {
			t.Errorf("lmoctl check: %s is %q, want %q\n%s", name, got[name], want, checkOut)
		}
	}
}

// scrape reads a Prometheus text page into series name{labels} → value.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scraping %s: %v", url, err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// freeAddr is a loopback address with a port nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

const acmeYAML = `
apiVersion: licensing.lmo-operator.dev/v1alpha1
kind: LicenseManagementOrg
metadata: {name: acme-lmo}
spec:
  instanceURL: %s
  auth: {clientCredentials: {secretRef: {name: acme-lmo-client}}}
  pollInterval: 10s
---
apiVersion: licensing.lmo-operator.dev/v1alpha1
kind: ManagedPackage
metadata: {name: acme-projects}
spec:
  lmoRef: {name: acme-lmo}
  packageID: 033000000000001AAA
---
apiVersion: licensing.lmo-operator.dev/v1alpha1
kind: License
metadata: {name: globex}
spec:
  packageRef: {name: acme-projects}
  subscriberOrgID: 00D5g000004XyZ1AAA
  status: Active
  seats: 75
  expiration: "2028-01-31"
---
apiVersion: licensing.lmo-operator.dev/v1alpha1
kind: License
metadata: {name: initech}
spec:
  packageRef: {name: acme-projects}
  subscriberOrgID: 00D5g000004AbC2AAA
  managementPolicy: Observe
`

// startLMOSim runs bin/lmosim on a loopback port with the samples' seed and args, and returns its URL.
func startLMOSim(t *testing.T, args ...string) string {
	t.Helper()
	p := testenv.StartProcess(t, "lmosim", filepath.Join(t.TempDir(), "lmosim.log"), syscall.SIGKILL, append([]string{"--listen", "127.0.0.1:0",
		"--seed", filepath.Join(testenv.Root(), "config", "samples", "lmosim-seed.yaml")}, args...)...)
	url, err := p.ListeningURL(20 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return url
}

// startNamedManager runs bin/manager under the program name name (a link to it), which its user agent
// and so the field manager of its writes carry, until the test ends.
func startNamedManager(t *testing.T, name, kubeconfig string, args ...string) {
	t.Helper()
	bin := testenv.Binary(t, "manager")
	if name != "manager" {
		link := filepath.Join(t.TempDir(), name)
		if err := os.Symlink(bin, link); err != nil {
			t.Fatal(err)
		}
		bin = link
	}
	testenv.StartProgram(t, bin, filepath.Join(t.TempDir(), name+".log"), syscall.SIGINT, append([]string{"--kubeconfig", kubeconfig,
		"--health-probe-bind-address", "127.0.0.1:0", "--allow-insecure-loopback-http"}, args...)...)
}
