package faults_test

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/lmosim"
	"github.com/lmo-operator/lmo-operator/internal/testenv"
)

// startProc runs bin/<name> with its log in the suite's work directory; the spec's cleanup kills it.
func startProc(name string, logName string, args ...string) *testenv.Process {
	return testenv.StartProcess(GinkgoT(), name, filepath.Join(workDir, logName), syscall.SIGKILL, args...)
}

// startSimProcess runs bin/lmosim with the fleet's seed and a state file, and returns its URL.
func startSimProcess(listen, statePath, logName string) (*testenv.Process, string) {
	seedPath := filepath.Join(workDir, "seed.yaml")
	Expect(os.WriteFile(seedPath, []byte(seedYAML()), 0o600)).To(Succeed())
	p := startProc("lmosim", logName, "--listen", listen, "--seed", seedPath, "--state", statePath)
	base, err := p.ListeningURL(20 * time.Second)
	Expect(err).NotTo(HaveOccurred())
	return p, base
}

// startManager runs bin/manager for one namespace, with metrics and probes off.
func startManager(ns, logName string, extra ...string) *testenv.Process {
	args := append([]string{"--kubeconfig", kubeconfig, "--watch-namespaces", ns, "--metrics-bind-address", "0",
		"--health-probe-bind-address", "0", "--allow-insecure-loopback-http"}, extra...)
	return startProc("manager", logName, args...)
}

// processSpecs are the specs that run bin/lmosim and bin/manager as processes; they run inside the
// "Faults" container, while the REQUEST_LIMIT_EXCEEDED spec runs in the background.
func processSpecs() {
	It("7: lmosim restarted with --state (SIGTERM mid-sync, same port): the operator reconnects and converges", func() {
		state := filepath.Join(workDir, "lmosim-state.json")
		first, base := startSimProcess("127.0.0.1:0", state, "lmosim-1.log")
		u, err := url.Parse(base)
		Expect(err).NotTo(HaveOccurred())
		s := &sim{url: base}
		e := newEnv(Default, nsRestart, s)
		DeferCleanup(e.stop)
		startManager(nsRestart, "manager-restart.log")
		e.waitLMOReady(Default, 60*time.Second)

		// Hold the first Collections call 4 s, so that SIGTERM lands while it is in flight.
		before := s.stats(Default)
		s.addFault(Default, lmosim.Fault{Operation: "collectionsPatch", LatencyMs: 4000})
		e.createFleet(Default)
		created := time.Now()
		Eventually(func(g Gomega) int64 { return s.stats(g).Calls["collectionsPatch"] }).WithTimeout(60*time.Second).
			WithPolling(100*time.Millisecond).Should(BeNumerically(">", 0), "no write started")
		last := s.stats(Default)
		first.Signal(syscall.SIGTERM)
		down := time.Now()
		Expect(first.ExitCode()).To(Equal(0), "lmosim did not exit cleanly on SIGTERM: %s", first.Log())
		Expect(state).To(BeAnExistingFile())
		time.Sleep(5 * time.Second)
		startSimProcess(u.Host, state, "lmosim-2.log")
		up := time.Now()
		done := e.waitConverged(Default, 2*time.Minute)
		after := s.stats(Default) // the second process counts from its start
		callsFirst, _ := delta(before, last)
		callsSecond, breakdown := delta(lmosim.Stats{Calls: map[string]int64{}}, after)
		r := &result{Fault: "7 lmosim SIGTERM mid-write, restarted with --state after 5 s", Window: up.Sub(down),
			Converge: done.Sub(up), Total: done.Sub(created)}
		r.Calls, r.Breakdown = callsSecond, fmt.Sprintf("after restart: %s; before the kill (from fleet creation): %d", breakdown, callsFirst)
		// After the restart: one new session (6), the writes (2 batches + 1), polls until converged.
		polls := int64(done.Sub(up)/(10*time.Second)) + 1
		r.Bound = 2*sessionCalls + writeBatches + 1 + polls
		r.Observation = fmt.Sprintf("calls counted by the restarted lmosim until converged; bound: ≤ 2 sessions (6) + 3 write calls + %d polls", polls)
		record(r)
		Expect(r.Calls).To(BeNumerically("<=", r.Bound), breakdown)
		verifyRecords(Default, s, nil)
		r.Outcome = "passed"
	})

	It("8: the manager killed with SIGKILL mid-batch and restarted: converges, no duplicate or stale writes", func() {
		s := startSim()
		e := newEnv(Default, nsKill, s)
		DeferCleanup(e.stop)
		m1 := startManager(nsKill, "manager-kill-1.log")
		e.waitLMOReady(Default, 60*time.Second)

		s.addFault(Default, lmosim.Fault{Operation: "collectionsPatch", LatencyMs: 4000, Count: 1})
		e.createFleet(Default)
		created := time.Now()
		Eventually(func(g Gomega) int64 { return s.stats(g).Calls["collectionsPatch"] }).WithTimeout(60*time.Second).
			WithPolling(100*time.Millisecond).Should(BeNumerically(">", 0), "no write started")
		time.Sleep(time.Second)
		m1.Signal(syscall.SIGKILL)
		killed := time.Now()
		before := s.stats(Default)
		startManager(nsKill, "manager-kill-2.log")
		restarted := time.Now()
		done := e.waitConverged(Default, 2*time.Minute)
		after := s.stats(Default)
		r := &result{Fault: "8 manager SIGKILL mid-batch, restarted", Window: restarted.Sub(killed), Converge: done.Sub(restarted), Total: done.Sub(created)}
		r.Calls, r.Breakdown = delta(before, after)
		polls := int64(done.Sub(restarted)/(10*time.Second)) + 1
		r.Bound = sessionCalls + writeBatches + 1 + polls
		r.Observation = fmt.Sprintf("calls from the kill until converged; bound: one session (6) + 3 write calls + %d polls; exactly one history row per written field", polls)
		record(r)
		Expect(r.Calls).To(BeNumerically("<=", r.Bound), r.Breakdown)
		verifyRecords(Default, s, nil) // one history row per changed field: no duplicate, no stale write
		r.Outcome = "passed"
	})

	// Outside a cluster the Lease namespace comes from --leader-election-namespace.
	It("10: two managers with --leader-elect: only the leader writes; the other takes over when it dies", func() {
		s := startSim()
		e := newEnv(Default, nsLeader, s)
		DeferCleanup(e.stop)
		le := []string{"--leader-elect", "--leader-election-id", "fault-leader", "--leader-election-namespace", nsLeader}
		a := startManager(nsLeader, "manager-leader-a.log", le...)
		b := startManager(nsLeader, "manager-leader-b.log", le...)
		leaderOf := func() *testenv.Process {
			for _, p := range []*testenv.Process{a, b} {
				select {
				case <-p.Exited():
					continue
				default:
				}
				if strings.Contains(strings.ToLower(p.Log()), "successfully acquired lease") {
					return p
				}
			}
			return nil
		}
		var leader *testenv.Process
		Eventually(func() *testenv.Process { leader = leaderOf(); return leader }).WithTimeout(60 * time.Second).ShouldNot(BeNil())
		follower := a
		if leader == a {
			follower = b
		}
		var lease coordinationv1.Lease
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: nsLeader, Name: "fault-leader"}, &lease)).To(Succeed())
		holder := ptr.Deref(lease.Spec.HolderIdentity, "")
		Expect(holder).NotTo(BeEmpty())
		e.waitLMOReady(Default, 60*time.Second)
		e.createFleet(Default)
		created := time.Now()
		done := e.waitConverged(Default, 2*time.Minute)
		st := s.stats(Default)
		// One engine only: one token, one full load, 2 Collections calls. Two writers would show two
		// tokens, two full loads and duplicate Collections calls.
		Expect(st.Calls["token"]).To(BeEquivalentTo(1), "a second manager called the LMO")
		Expect(st.Calls["collectionsPatch"]).To(BeNumerically("<=", writeBatches+1))
		Expect(strings.ToLower(follower.Log())).NotTo(ContainSubstring("successfully acquired lease"))
		verifyRecords(Default, s, nil)

		// The leader dies; the follower takes the Lease and serves a spec change.
		leader.Signal(syscall.SIGKILL)
		killed := time.Now()
		before := s.stats(Default)
		Eventually(func(g Gomega) string {
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: nsLeader, Name: "fault-leader"}, &lease)).To(Succeed())
			return ptr.Deref(lease.Spec.HolderIdentity, "")
		}).WithTimeout(60 * time.Second).ShouldNot(Or(BeEmpty(), Equal(holder)))
		Eventually(func() string { return strings.ToLower(follower.Log()) }).WithTimeout(30 * time.Second).
			Should(ContainSubstring("successfully acquired lease"))
		m := plan(0)
		var l licensingv1alpha1.License
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: nsLeader, Name: m.name}, &l)).To(Succeed())
		patch := client.MergeFrom(l.DeepCopy())
		l.Spec.Seats = ptr.To(intstr.FromInt(777))
		Expect(k8sClient.Patch(ctx, &l, patch)).To(Succeed())
		// Wait on the License (the API server), not on the LMO, so the test's own reads do not count.
		Eventually(func(g Gomega) {
			var got licensingv1alpha1.License
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: nsLeader, Name: m.name}, &got)).To(Succeed())
			g.Expect(got.Status.Observed).NotTo(BeNil())
			g.Expect(got.Status.Observed.Seats).NotTo(BeNil())
			g.Expect(got.Status.Observed.Seats.IntValue()).To(Equal(777))
			g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, "Ready")).To(BeTrue())
		}).WithTimeout(90 * time.Second).WithPolling(time.Second).Should(Succeed())
		took := time.Now()
		after := s.stats(Default)
		Expect(*s.read(Default).licenses[m.id].Seats).To(BeEquivalentTo(777), "the LMO record")
		r := &result{Fault: "10 two managers, leader election; leader SIGKILLed", Window: took.Sub(killed), Converge: took.Sub(killed), Total: done.Sub(created)}
		r.Calls, r.Breakdown = delta(before, after)
		r.Bound = sessionCalls + 2 + int64(took.Sub(killed)/(10*time.Second)) + 1 + 8
		r.Observation = "before the kill: 1 token, 1 session, ≤ 3 Collections calls in all (one writer); after: the follower's session"
		record(r)
		Expect(r.Calls).To(BeNumerically("<=", r.Bound))
		r.Outcome = "passed"
	})
}
