package faults_test

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/lmosim"
)

// The bounds below follow from the engine's schedule (internal/engine): one poll per pollInterval
// (10 s); a session starts with 6 calls (token, Organization query, 2 describes, limits, the full-load
// Composite); a failed session reconnects after 2 s doubling; a failed write batch retries after 1 s
// doubling; 223 records to write (167 licenses + 56 MaxProjects values) fill 2 Collections calls.
const (
	sessionCalls = 6
	writeBatches = 2
)

// windowFault is a fault that is active for a fixed window while the fleet is created and synced.
type windowFault struct {
	name   string
	faults []lmosim.Fault
	window time.Duration
	// bound is the most calls the operator may make during the window, and why.
	bound     int64
	boundWhy  string
	converge  time.Duration // the Eventually timeout after the window
	afterWait func(g Gomega, e *env, r *result)
}

// runWindow: the LMO connects with an empty fleet; the fault starts; the 500 Licenses are created
// during the fault; the fault ends after the window; the fleet must then converge, the records equal
// the spec, and the calls during the window stay under the bound.
func runWindow(g Gomega, e *env, f windowFault) *result {
	s := e.sim
	e.waitLMOReady(g, 60*time.Second)
	before := s.stats(g)
	start := time.Now()
	for _, fl := range f.faults {
		s.addFault(g, fl)
	}
	e.createFleet(g)
	created := time.Now()
	GinkgoWriter.Printf("%s: fleet created in %s, under the fault\n", f.name, created.Sub(start).Round(time.Millisecond))
	r := &result{Fault: f.name}
	if f.afterWait != nil {
		f.afterWait(g, e, r)
	}
	time.Sleep(time.Until(start.Add(f.window)))
	s.clearFaults(g)
	end := time.Now()
	after := s.stats(g)
	r.Window = end.Sub(start)
	r.Calls, r.Breakdown = delta(before, after)
	r.Bound = f.bound
	done := e.waitConverged(g, f.converge)
	r.Converge, r.Total = done.Sub(end), done.Sub(created)
	r.Observation = f.boundWhy
	record(r)
	g.Expect(r.Calls).To(BeNumerically("<=", f.bound), "calls during the fault: %s", r.Breakdown)
	verifyRecords(g, s, nil)
	r.Outcome = "passed"
	return r
}

var _ = Describe("Faults", Ordered, ContinueOnFailure, func() {
	// REQUEST_LIMIT_EXCEEDED lasts 2 minutes and the engine backs off 1 then 2 minutes: it runs in the
	// background (its own lmosim, namespace and engine) while the other specs run, and is checked last.
	var limit *bg
	BeforeAll(func() {
		s := startSim()
		e := newEnv(Default, nsLimit, s)
		DeferCleanup(e.stop)
		limit = background(func(g Gomega) {
			e.waitLMOReady(g, 60*time.Second)
			before := s.stats(g)
			start := time.Now()
			s.addFault(g, lmosim.Fault{Operation: "*", LimitExceeded: true, DurationSeconds: 120})
			e.createFleet(g)
			created := time.Now()
			// The operator backs off and says so.
			var reason, msg string
			g.Eventually(func(g Gomega) {
				var st any
				st, reason, msg = e.lmoCondition(g, licensingv1alpha1.ConditionReady)
				g.Expect(st).To(BeEquivalentTo("False"))
				g.Expect(reason).To(BeElementOf(licensingv1alpha1.ReasonAPILimitExceeded, licensingv1alpha1.ReasonAPIBudgetLow), msg)
			}).WithTimeout(40 * time.Second).WithPolling(time.Second).Should(Succeed())
			GinkgoWriter.Printf("REQUEST_LIMIT_EXCEEDED: LicenseManagementOrg Ready=False %s: %s\n", reason, msg)
			// It keeps saying so for the rest of the fault, while it waits.
			g.Consistently(func(g Gomega) string {
				_, reason, _ := e.lmoCondition(g, licensingv1alpha1.ConditionReady)
				return reason
			}).WithTimeout(time.Until(start.Add(115 * time.Second))).WithPolling(2 * time.Second).
				Should(BeElementOf(licensingv1alpha1.ReasonAPILimitExceeded, licensingv1alpha1.ReasonAPIBudgetLow))
			time.Sleep(time.Until(start.Add(120 * time.Second)))
			s.clearFaults(g)
			end := time.Now()
			after := s.stats(g)
			r := &result{Fault: "3 REQUEST_LIMIT_EXCEEDED, every call, 2 min", Window: end.Sub(start), Bound: 10}
			r.Calls, r.Breakdown = delta(before, after)
			// The engine waits 1 minute after the first REQUEST_LIMIT_EXCEEDED and 2 after the second, so
			// the next attempt after the fault may come up to ~3 minutes after it started.
			done := e.waitConverged(g, 4*time.Minute)
			r.Converge, r.Total = done.Sub(end), done.Sub(created)
			r.Observation = fmt.Sprintf("LMO Ready=False reason %s during the fault; bound: a poll and a reconnect per limit backoff (1 min, then 2 min), a hot loop would make hundreds", reason)
			record(r)
			g.Expect(r.Calls).To(BeNumerically("<=", r.Bound), "calls during the 2 minutes: %s", r.Breakdown)
			verifyRecords(g, s, nil)
			r.Outcome = "passed"
		})
	})

	It("1: 5xx (503) on 30% of calls for 60 s", func() {
		s := startSim()
		e := newEnv(Default, ns5xx, s)
		DeferCleanup(e.stop)
		runWindow(Default, e, windowFault{
			name:   "1 503 on 30% of calls, 60 s",
			faults: []lmosim.Fault{{Operation: "*", Status: 503, Probability: 0.3, Seed: 7, DurationSeconds: 60}},
			window: 60 * time.Second,
			// ≤ 6 sessions (reconnect 2+4+8+16+32 s) × 6 calls, 6 polls, 2 batches × 6 attempts (1 s doubling).
			bound:    6*sessionCalls + 6 + writeBatches*6,
			boundWhy: "≤ 6 sessions × 6 calls (reconnect 2 s doubling) + 6 polls + 2 batches × 6 attempts (retry 1 s doubling)",
			converge: 3 * time.Minute,
		})
	})

	It("2: UNABLE_TO_LOCK_ROW on half the records of each Collections batch", func() {
		s := startSim()
		e := newEnv(Default, nsLockRow, s)
		DeferCleanup(e.stop)
		const count = 4
		e.waitLMOReady(Default, 60*time.Second)
		before := s.stats(Default)
		start := time.Now()
		s.addFault(Default, lmosim.Fault{Operation: "collectionsPatch", LockRowShare: 0.5, Count: count, Seed: 11})
		e.createFleet(Default)
		created := time.Now()
		// The fault ends when it has fired on `count` batches (or the fleet converged first).
		Eventually(func(g Gomega) bool {
			if len(s.faults(g)) == 0 {
				return true
			}
			ok, _ := e.converged(g)
			return ok == fleetSize
		}).WithTimeout(3 * time.Minute).WithPolling(500 * time.Millisecond).Should(BeTrue())
		s.clearFaults(Default)
		end := time.Now()
		after := s.stats(Default)
		done := e.waitConverged(Default, 2*time.Minute)
		r := &result{Fault: "2 UNABLE_TO_LOCK_ROW on half of each batch (4 batches)", Window: end.Sub(start),
			Converge: done.Sub(end), Total: done.Sub(created)}
		r.Calls, r.Breakdown = delta(before, after)
		// Each faulted batch leaves half its records to retry: 2 batches + 4 retries, + polls in the window.
		polls := int64(r.Window/(10*time.Second)) + 1
		r.Bound = writeBatches + count + polls
		r.Observation = fmt.Sprintf("bound: 2 batches + 1 retry batch per faulted batch (4) + %d polls; collectionsPatch %d", polls, after.Calls["collectionsPatch"]-before.Calls["collectionsPatch"])
		record(r)
		Expect(r.Calls).To(BeNumerically("<=", r.Bound), r.Breakdown)
		verifyRecords(Default, s, nil)
		r.Outcome = "passed"
	})

	It("4: tokens expiring every 20 s", func() {
		s := startSim()
		e := newEnv(Default, nsTokens, s)
		DeferCleanup(e.stop)
		runWindow(Default, e, windowFault{
			name:   "4 tokens expire every 20 s, 60 s",
			faults: []lmosim.Fault{{ExpireTokensEvery: "20s", DurationSeconds: 60}},
			window: 60 * time.Second,
			// One re-authentication per 20 s (+1 slack), each with its failed 401 call; 6 polls; 2 batches;
			// one session restart.
			bound:    2*(3+1) + 6 + writeBatches + sessionCalls,
			boundWhy: "≤ 4 re-authentications × (token + the 401 call) + 6 polls + 2 batches + one session (6)",
			converge: 90 * time.Second,
		})
	})

	It("5: connections dropped mid-response (probability 0.3) for 60 s", func() {
		s := startSim()
		e := newEnv(Default, nsDrop, s)
		DeferCleanup(e.stop)
		runWindow(Default, e, windowFault{
			name:     "5 connection dropped mid-response, 30% of calls, 60 s",
			faults:   []lmosim.Fault{{Operation: "*", DropConnection: true, Probability: 0.3, Seed: 5, DurationSeconds: 60}},
			window:   60 * time.Second,
			bound:    6*sessionCalls + 6 + writeBatches*6,
			boundWhy: "≤ 6 sessions × 6 calls (reconnect 2 s doubling) + 6 polls + 2 batches × 6 attempts (retry 1 s doubling)",
			converge: 3 * time.Minute,
		})
	})

	It("6: 3 s latency on every call", func() {
		s := startSim()
		e := newEnv(Default, nsLatency, s)
		DeferCleanup(e.stop)
		e.waitLMOReady(Default, 60*time.Second)
		before := s.stats(Default)
		start := time.Now()
		s.addFault(Default, lmosim.Fault{Operation: "*", LatencyMs: 3000})
		e.createFleet(Default)
		created := time.Now()
		// The fault stays on until the fleet converged through it.
		done := e.waitConverged(Default, 3*time.Minute)
		s.clearFaults(Default)
		end := time.Now()
		after := s.stats(Default)
		r := &result{Fault: "6 3 s latency on every call, until converged", Window: end.Sub(start), Converge: 0, Total: done.Sub(created)}
		r.Calls, r.Breakdown = delta(before, after)
		// Calls take 3 s each: a poll per 10 s + 3 s, 2 write batches, one session, + 2 slack.
		polls := int64(r.Window/(13*time.Second)) + 1
		r.Bound = polls + writeBatches + sessionCalls + 2
		r.Observation = fmt.Sprintf("converged under the fault; bound: %d polls (one per 13 s) + 2 batches + one session (6) + 2", polls)
		record(r)
		Expect(r.Calls).To(BeNumerically("<=", r.Bound), r.Breakdown)
		verifyRecords(Default, s, nil)
		r.Outcome = "passed"
	})

	It("9: a spec changed while its write is in flight: the newer value wins", func() {
		s := startSim()
		e := newEnv(Default, nsInFlight, s)
		DeferCleanup(e.stop)
		e.waitLMOReady(Default, 60*time.Second)
		e.createFleet(Default)
		e.waitConverged(Default, 2*time.Minute)

		// Ten members that already had seats written get seats 300+i; that write is held 5 s in
		// lmosim, and while it is in flight their seats change again to 400+i.
		var picked []member
		for _, m := range fleet() {
			if m.kind == kindChange && len(picked) < 10 {
				picked = append(picked, m)
			}
		}
		setSeats := func(m member, seats int) {
			var l licensingv1alpha1.License
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: m.name}, &l)).To(Succeed())
			patch := client.MergeFrom(l.DeepCopy())
			l.Spec.Seats = ptr.To(intstr.FromInt(seats))
			Expect(k8sClient.Patch(ctx, &l, patch)).To(Succeed())
		}
		before := s.stats(Default)
		start := time.Now()
		s.addFault(Default, lmosim.Fault{Operation: "collectionsPatch", LatencyMs: 5000, Count: 1})
		for _, m := range picked {
			setSeats(m, 300+m.i)
		}
		Eventually(func(g Gomega) int64 { return s.stats(g).Calls["collectionsPatch"] }).WithTimeout(30*time.Second).
			WithPolling(100*time.Millisecond).Should(BeNumerically(">", before.Calls["collectionsPatch"]), "the first write never started")
		inFlight := time.Now()
		for _, m := range picked {
			setSeats(m, 400+m.i)
		}
		GinkgoWriter.Printf("in flight: newer seats set %s after the first write started\n", time.Since(inFlight).Round(time.Millisecond))
		Expect(time.Since(inFlight)).To(BeNumerically("<", 4*time.Second), "the newer specs were not set while the write was in flight")
		done := e.waitConverged(Default, time.Minute)
		s.clearFaults(Default)
		end := time.Now()
		after := s.stats(Default) // before the test's own REST reads
		Eventually(func(g Gomega) {
			st := s.read(g)
			for _, m := range picked {
				g.Expect(*st.licenses[m.id].Seats).To(BeEquivalentTo(400+m.i), m.name)
			}
		}).WithTimeout(30 * time.Second).WithPolling(2 * time.Second).Should(Succeed())
		r := &result{Fault: "9 spec changed while its write is in flight (5 s)", Window: end.Sub(start), Converge: done.Sub(inFlight), Total: done.Sub(start)}
		r.Calls, r.Breakdown = delta(before, after)
		polls := int64(r.Window/(10*time.Second)) + 1
		r.Bound = 3 + polls // 2 writes (+1 slack) + polls
		r.Observation = fmt.Sprintf("newer seats won in all 10 records; bound: ≤ 3 Collections calls + %d polls", polls)
		record(r)
		Expect(after.Calls["collectionsPatch"] - before.Calls["collectionsPatch"]).To(BeNumerically("<=", 3))
		Expect(r.Calls).To(BeNumerically("<=", r.Bound), r.Breakdown)

		// The records: the newer value last; the older one may have been written in between, nothing else.
		allowed := map[string][]string{}
		for i, m := range picked {
			allowed[m.name+"/sfLma__Seats__c"] = []string{fmt.Sprint(*m.specSeats), fmt.Sprint(300 + m.i)}
			picked[i].specSeats = ptr.To(int64(400 + m.i))
		}
		overrideSeats = map[string]int64{}
		for _, m := range picked {
			overrideSeats[m.name] = *m.specSeats
		}
		DeferCleanup(func() { overrideSeats = nil })
		verifyRecords(Default, s, allowed)
		r.Outcome = "passed"
	})

	processSpecs()

	It("3: REQUEST_LIMIT_EXCEEDED on every call for 2 minutes (ran in the background)", func() {
		limit.wait(6 * time.Minute)
	})
})
