package faults_test

import (
	"bufio"
	"fmt"
	"net/url"
	"os"
	"os/exec"
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
)

// proc is a process started by a spec; the spec ends it by its own pid.
type proc struct {
	cmd    *exec.Cmd
	log    string
	exited chan struct{}
}

func requireBinary(name string) string {
	path, err := filepath.Abs(filepath.Join(root, "bin", name))
	Expect(err).NotTo(HaveOccurred())
	if _, err := os.Stat(path); err != nil {
		Fail(fmt.Sprintf("bin/%s is missing: run `make build` first (make test-faults does)", name))
	}
	return path
}

func startProc(name string, logName string, args ...string) *proc {
	bin := requireBinary(name)
	logPath := filepath.Join(workDir, logName)
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	Expect(err).NotTo(HaveOccurred())
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	Expect(cmd.Start()).To(Succeed())
	p := &proc{cmd: cmd, log: logPath, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); _ = logf.Close(); close(p.exited) }() // a log that failed to close only loses its tail
	DeferCleanup(func() {
		p.signal(syscall.SIGKILL)
		if CurrentSpecReport().Failed() {
			out, _ := os.ReadFile(logPath)
			tail := string(out)
			if len(tail) > 20000 {
				tail = tail[len(tail)-20000:]
			}
			GinkgoWriter.Printf("--- %s (tail) ---\n%s\n", logName, tail)
		}
	})
	return p
}

// signal sends sig to the process (if it still runs) and waits up to 10 s for it to exit.
func (p *proc) signal(sig syscall.Signal) {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

func (p *proc) logText() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// startSimProcess runs bin/lmosim with the fleet's seed and a state file, and returns its URL.
func startSimProcess(listen, statePath, logName string) (*proc, string) {
	seedPath := filepath.Join(workDir, "seed.yaml")
	Expect(os.WriteFile(seedPath, []byte(seedYAML()), 0o600)).To(Succeed())
	p := startProc("lmosim", logName, "--listen", listen, "--seed", seedPath, "--state", statePath)
	var base string
	Eventually(func() string {
		sc := bufio.NewScanner(strings.NewReader(p.logText()))
		for sc.Scan() {
			if i := strings.Index(sc.Text(), "http://"); i >= 0 && strings.Contains(sc.Text(), "listening") {
				base = strings.TrimSpace(sc.Text()[i:])
			}
		}
		return base
	}).WithTimeout(20*time.Second).WithPolling(100*time.Millisecond).ShouldNot(BeEmpty(), "lmosim printed no URL: %s", p.logText())
	return p, base
}

// startManager runs bin/manager for one namespace, with metrics and probes off.
func startManager(ns, logName string, extra ...string) *proc {
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
		first.signal(syscall.SIGTERM)
		down := time.Now()
		Expect(first.cmd.ProcessState.ExitCode()).To(Equal(0), "lmosim did not exit cleanly on SIGTERM: %s", first.logText())
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
		m1.signal(syscall.SIGKILL)
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
		leaderOf := func() *proc {
			for _, p := range []*proc{a, b} {
				select {
				case <-p.exited:
					continue
				default:
				}
				if strings.Contains(strings.ToLower(p.logText()), "successfully acquired lease") {
					return p
				}
			}
			return nil
		}
		var leader *proc
		Eventually(func() *proc { leader = leaderOf(); return leader }).WithTimeout(60 * time.Second).ShouldNot(BeNil())
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
		Expect(strings.ToLower(follower.logText())).NotTo(ContainSubstring("successfully acquired lease"))
		verifyRecords(Default, s, nil)

		// The leader dies; the follower takes the Lease and serves a spec change.
		leader.signal(syscall.SIGKILL)
		killed := time.Now()
		before := s.stats(Default)
		Eventually(func(g Gomega) string {
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: nsLeader, Name: "fault-leader"}, &lease)).To(Succeed())
			return ptr.Deref(lease.Spec.HolderIdentity, "")
		}).WithTimeout(60 * time.Second).ShouldNot(Or(BeEmpty(), Equal(holder)))
		Eventually(func() string { return strings.ToLower(follower.logText()) }).WithTimeout(30 * time.Second).
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
