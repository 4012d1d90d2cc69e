// Package faults is the fault suite: a fleet of 500 Licenses against lmosim while lmosim misbehaves
// (5xx, UNABLE_TO_LOCK_ROW, REQUEST_LIMIT_EXCEEDED, expiring tokens, dropped connections, latency),
// restarts, or the manager is killed, and asserts that the fleet converges to its spec, that nothing the
// spec did not ask for is ever written, and that the API calls spent during the fault stay bounded.
//
// Run it with KUBEBUILDER_ASSETS="$(hack/envtest.sh)" go test -count=1 -timeout 20m ./test/faults/...
// after `make build` (the process-based specs run bin/manager and bin/lmosim). Every run rewrites
// test/faults/RESULTS.md with the calls spent and the time to converge, per fault.
package faults_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/lmo-operator/lmo-operator/controllers"
	"github.com/lmo-operator/lmo-operator/internal/testenv"
)

var (
	k8sClient  client.Client // reads the API server directly, with no client-side rate limit
	ctx        context.Context
	cancel     context.CancelFunc
	kubeconfig string // for the manager processes
	workDir    string
)

// The in-process manager watches only these namespaces; the process-based specs use others, each
// watched by its own bin/manager (--watch-namespaces), so that exactly one manager drives each fleet.
const (
	ns5xx      = "fault-5xx"
	nsLockRow  = "fault-lockrow"
	nsLimit    = "fault-limit"
	nsTokens   = "fault-tokens"
	nsDrop     = "fault-drop"
	nsLatency  = "fault-latency"
	nsInFlight = "fault-inflight"
	nsRestart  = "fault-simrestart"
	nsKill     = "fault-mgrkill"
	nsLeader   = "fault-leader"
)

var inProcessNamespaces = []string{ns5xx, nsLockRow, nsLimit, nsTokens, nsDrop, nsLatency, nsInFlight}

func TestFaults(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Fault suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(false)))
	ctx, cancel = context.WithCancel(context.Background())
	controlPlane := testenv.StartControlPlane(GinkgoT(), true)
	DeferCleanup(func() { cancel() }) // stops the manager before the control plane stops
	cfg := controlPlane.Config
	scheme := testenv.Scheme()

	fast := rest.CopyConfig(cfg)
	fast.QPS, fast.Burst = -1, 0 // the test creates 500 Licenses per spec
	k8sClient = testenv.Client(GinkgoT(), fast, scheme)

	var err error
	workDir, err = os.MkdirTemp("", "lmo-faults-")
	Expect(err).NotTo(HaveOccurred())
	kubeconfig = controlPlane.Kubeconfig(GinkgoT(), "fault-admin", workDir)

	// The in-process manager runs as bin/manager does by default: 50 QPS, burst 100, 4 License workers.
	mcfg := rest.CopyConfig(cfg)
	mcfg.QPS, mcfg.Burst = 50, 100
	namespaces := map[string]cache.Config{}
	for _, ns := range inProcessNamespaces {
		namespaces[ns] = cache.Config{}
	}
	testenv.RunManager(ctx, mcfg, ctrl.Options{Scheme: scheme,
		Cache: cache.Options{DefaultNamespaces: namespaces, DefaultTransform: cache.TransformStripManagedFields()}},
		func(ctx context.Context, mgr ctrl.Manager) error {
			return controllers.SetupWithManager(ctx, mgr, controllers.Options{AllowInsecureLoopbackHTTP: true})
		})
})

var _ = AfterSuite(func() {
	writeResults()
	if workDir != "" {
		_ = os.RemoveAll(workDir)
	}
})

// result is what one fault spec measured, for RESULTS.md.
type result struct {
	Fault       string
	Window      time.Duration // how long the fault was active
	Calls       int64         // lmosim calls (every kind) while the fault was active
	Bound       int64         // the bound the spec asserts on Calls
	Breakdown   string        // the non-zero kinds of Calls
	Converge    time.Duration // from the end of the fault to the whole fleet converged
	Total       time.Duration // from the fleet's creation to converged
	Outcome     string        // passed, or what failed
	Observation string
}

var (
	resultsMu sync.Mutex
	results   []*result
)

func record(r *result) {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	results = append(results, r)
	GinkgoWriter.Printf("FAULT RESULT %s: window %s, calls %d (bound %d: %s), converged %s after the fault (%s after creation). %s\n",
		r.Fault, r.Window.Round(time.Second), r.Calls, r.Bound, r.Breakdown, r.Converge.Round(time.Second), r.Total.Round(time.Second), r.Observation)
}

// writeResults writes the results of this run to the file named by LMO_FAULTS_RESULTS (for example
// test/faults/RESULTS.md, with `make fault-results`); without it the figures go to the test output
// only, so an ordinary test run leaves the tree unchanged.
func writeResults() {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	path := os.Getenv("LMO_FAULTS_RESULTS")
	if len(results) == 0 || path == "" {
		return
	}
	sort.SliceStable(results, func(i, j int) bool { return results[i].Fault < results[j].Fault })
	var b strings.Builder
	b.WriteString("# Fault suite results\n\n")
	fmt.Fprintf(&b, "Written by `go test ./test/faults/...` on %s (fleet: 500 Licenses, about a third needing changes; LMO pollInterval 10s).\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"))
	b.WriteString("Calls are every lmosim call (all kinds, failed ones included) while the fault was active; the time to converge runs from the end\n")
	b.WriteString("of the fault to every License of the fleet showing its final condition (Ready, or Uninstalled / AccessReductionHeld for the\n")
	b.WriteString("records that must never be written). Regenerate with `make fault-results`.\n\n")
	b.WriteString("| fault | fault window | calls during fault | bound | calls by kind | converged after fault | fleet creation to converged | outcome | notes |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %s | %s | %d | ≤ %d | %s | %s | %s | %s | %s |\n", r.Fault, r.Window.Round(time.Second), r.Calls, r.Bound,
			r.Breakdown, r.Converge.Round(100*time.Millisecond), r.Total.Round(100*time.Millisecond), r.Outcome, r.Observation)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		GinkgoWriter.Printf("writing RESULTS.md: %v\n", err)
	}
}
