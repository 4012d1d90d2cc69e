package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lmo-operator/lmo-operator/internal/testenv"
)

// TestTwoManagersServeDisjointNamespaces runs two managers against one control plane, as two Helm
// releases with disjoint watchNamespaces do: each with its own leader-election Lease in one shared
// namespace, each watching one LMO's namespace, each LMO on its own lmosim. Each LMO must be served
// by exactly one manager: its Licenses reach Ready, every call its lmosim answered is one its own
// manager counted, and no object of its namespace was written by the other manager.
func TestTwoManagersServeDisjointNamespaces(t *testing.T) {
	for _, bin := range []string{"manager", "lmosim"} {
		testenv.Binary(t, bin)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	kubeconfig := testenv.StartControlPlane(t, false).Kubeconfig(t, "e2e-admin", dir)
	kubectl := func(args ...string) string {
		t.Helper()
		out, err := kubectlOutput(ctx, kubeconfig, args...)
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	kubectl("apply", "--server-side", "-k", filepath.Join(testenv.Root(), "config", "crd"))
	kubectl("wait", "--for=condition=Established", "crd/licenses.licensing.lmo-operator.dev", "--timeout=60s")
	kubectl("create", "namespace", "lmo-system")

	// Each shard: a namespace, its own lmosim (another LMO) with its own client, and a manager that
	// watches only that namespace. The managers' binaries have the shard's name, which the API server
	// records as the field manager of every write they make.
	type shard struct {
		ns, simURL, metricsAddr string
		seats                   int
	}
	shards := []*shard{{ns: "east", seats: 75}, {ns: "west", seats: 80}}
	for _, s := range shards {
		s.simURL = startLMOSim(t, "--client-id", s.ns+"-operator", "--client-secret", s.ns+"-secret")
		kubectl("create", "namespace", s.ns)
		kubectl("-n", s.ns, "create", "secret", "generic", "lmo-client",
			"--from-literal=client-id="+s.ns+"-operator", "--from-literal=client-secret="+s.ns+"-secret")
		manifests := filepath.Join(dir, s.ns+".yaml")
		if err := os.WriteFile(manifests, []byte(fmt.Sprintf(shardYAML, s.simURL, s.seats)), 0o600); err != nil {
			t.Fatal(err)
		}
		kubectl("-n", s.ns, "apply", "-f", manifests)
	}
	for _, s := range shards {
		s.metricsAddr = freeAddr(t)
		startNamedManager(t, "lmo-"+s.ns, kubeconfig, "--metrics-bind-address", s.metricsAddr, "--metrics-secure=false",
			"--leader-elect", "--leader-election-namespace", "lmo-system", "--leader-election-id", "lmo-"+s.ns+".lmo-operator.dev",
			"--watch-namespaces", s.ns)
	}
	for _, s := range shards {
		kubectl("-n", s.ns, "wait", "--for=condition=Ready", "licensemanagementorg/lmo", "license/globex", "--timeout=90s")
	}

	// Both managers lead, each through its own Lease.
	holders := map[string]bool{}
	for _, s := range shards {
		holder := kubectl("-n", "lmo-system", "get", "lease", "lmo-"+s.ns+".lmo-operator.dev", "-o", "jsonpath={.spec.holderIdentity}")
		if holder == "" || holders[holder] {
			t.Errorf("Lease lmo-%s.lmo-operator.dev is held by %q, want its own manager", s.ns, holder)
		}
		holders[holder] = true
	}

	for _, s := range shards {
		other := "west"
		if s.ns == "west" {
			other = "east"
		}
		// The record was written as this namespace's License asks, on this namespace's LMO only.
		var rec struct {
			Seats int `json:"seats"`
		}
		simGet(t, s.simURL+"/__sim/licenses/a0N000000000001AAA", &rec)
		if rec.Seats != s.seats {
			t.Errorf("the %s LMO's record has %d seats, want %d", s.ns, rec.Seats, s.seats)
		}

		// Every call this LMO's lmosim answered is one that this namespace's manager counted for its
		// LMO, and the other manager counted none for it.
		lmo := `lmo="` + s.ns + `/lmo"`
		for _, o := range shards {
			if o == s {
				continue
			}
			var foreign []string
			for name := range scrape(t, "http://"+o.metricsAddr+"/metrics") {
				if strings.Contains(name, lmo) {
					foreign = append(foreign, name)
				}
			}
			if len(foreign) > 0 {
				t.Errorf("the %s manager has %d series of the %s LMO, for example %s", o.ns, len(foreign), s.ns, foreign[0])
			}
		}
		var diff string
		deadline := time.Now().Add(30 * time.Second)
		for {
			var stats struct {
				Calls          map[string]float64 `json:"calls"`
				RecordsWritten float64            `json:"recordsWritten"`
			}
			simGet(t, s.simURL+"/__sim/stats", &stats)
			counted := map[string]float64{}
			series := scrape(t, "http://"+s.metricsAddr+"/metrics")
			for name, v := range series {
				if op, ok := strings.CutPrefix(name, `lmo_api_calls_total{`+lmo+`,operation="`); ok {
					counted[op[:strings.IndexByte(op, '"')]] += v
				}
			}
			diff = ""
			for op, n := range stats.Calls {
				if op != "other" && counted[op] != n {
					diff += fmt.Sprintf("\n  %s: lmosim answered %v, the %s manager counted %v", op, n, s.ns, counted[op])
				}
			}
			if w := series[`lmo_records_written_total{`+lmo+`,result="success"}`]; w != stats.RecordsWritten || w == 0 {
				diff += fmt.Sprintf("\n  records written: lmosim %v, the %s manager %v", stats.RecordsWritten, s.ns, w)
			}
			if diff == "" || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Second)
		}
		if diff != "" {
			t.Errorf("the %s LMO's calls are not all its own manager's:%s", s.ns, diff)
		}

		// The API server names the writer of every field: in this namespace, only kubectl (the test)
		// and this namespace's manager wrote, and the manager wrote the status of the LMO and of the
		// License, and the events.
		for _, kind := range []string{"licensemanagementorgs", "managedpackages", "licenses", "events"} {
			out := kubectl("-n", s.ns, "get", kind, "--show-managed-fields", "-o",
				`jsonpath={range .items[*]}{.kind}/{.metadata.name}{range .metadata.managedFields[*]} {.manager}{end}{"\n"}{end}`)
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				fields := strings.Fields(line)
				if len(fields) == 0 {
					continue
				}
				for _, writer := range fields[1:] {
					if writer == "lmo-"+other {
						t.Errorf("the %s manager wrote %s in namespace %s", other, fields[0], s.ns)
					}
				}
				if kind != "managedpackages" && !strings.Contains(line, " lmo-"+s.ns) {
					t.Errorf("%s in namespace %s was not written by the %s manager: %s", fields[0], s.ns, s.ns, line)
				}
			}
		}
	}
}

// shardYAML is one namespace's LMO, package and License, on the lmosim at %s, asking for %d seats.
const shardYAML = `
apiVersion: licensing.lmo-operator.dev/v1alpha1
kind: LicenseManagementOrg
metadata: {name: lmo}
spec:
  instanceURL: %s
  auth: {clientCredentials: {secretRef: {name: lmo-client}}}
  pollInterval: 10s
---
apiVersion: licensing.lmo-operator.dev/v1alpha1
kind: ManagedPackage
metadata: {name: projects}
spec:
  lmoRef: {name: lmo}
  packageID: 033000000000001AAA
---
apiVersion: licensing.lmo-operator.dev/v1alpha1
kind: License
metadata: {name: globex}
spec:
  packageRef: {name: projects}
  subscriberOrgID: 00D5g000004XyZ1AAA
  status: Active
  seats: %d
  expiration: "2028-01-31"
`

// kubectlOutput runs kubectl against kubeconfig and returns its combined output.
func kubectlOutput(ctx context.Context, kubeconfig string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", kubeconfig}, args...)...).CombinedOutput()
	return string(out), err
}

// simGet decodes the JSON an lmosim admin endpoint answers.
func simGet(t *testing.T, url string, into any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
