package engine_test

import (
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/decide"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/sfid"
)

// TestSimulation is the engine's deterministic simulation (issue 11), in the spirit of
// FoundationDB's simulation testing: each seed draws a schedule of steps — spec edits, pauses,
// Observe/Enforce switches, deletions under either policy, approvals, Dana Admin editing the LMO
// through the REST API, installs and uninstalls, usage reports, lmosim faults (5xx, UNABLE_TO_LOCK_ROW
// on part of a batch, the daily limit spent or nearly, expired tokens), answers lost after the
// commit, calls held in flight while other steps run, engine restarts — and runs it against lmosim
// on a fake clock, with the checker of sim_check_test.go judging every call and every step. A run is
// a pure function of its seed; a failing seed prints the command that replays it.
//
//	go test ./internal/engine -run '^TestSimulation$' -count=1 -args -sim.seed=N
//
// make test-sim runs 2,000 schedules; make simulate SEEDS=n runs n.
func TestSimulation(t *testing.T) {
	steps := *flagSimSteps
	if *flagSimSeed != 0 {
		res := runSimulation(*flagSimSeed, steps)
		t.Logf("trace of seed %d:\n%s", *flagSimSeed, strings.Join(res.trace, "\n"))
		if res.failure != "" {
			t.Fatalf("seed %d: %s", *flagSimSeed, res.failure)
		}
		t.Logf("seed %d: %s", *flagSimSeed, res.summary())
		return
	}
	seeds := *flagSimSeeds
	if seeds == 0 {
		seeds = 100
		if testing.Short() {
			seeds = 20
		}
	}
	from := *flagSimFrom

	// A schedule replays: the same seed gives the same trace.
	a, b := runSimulation(from, steps), runSimulation(from, steps)
	if strings.Join(a.trace, "\n") != strings.Join(b.trace, "\n") {
		t.Fatalf("seed %d does not replay: two runs differ at line %d:\n%s\n%s", from, firstDiff(a.trace, b.trace),
			lineAt(a.trace, firstDiff(a.trace, b.trace)), lineAt(b.trace, firstDiff(a.trace, b.trace)))
	}

	start := time.Now()
	workers := *flagSimWorkers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var (
		mu       sync.Mutex
		failed   []simResult
		total    simTotals
		next     = from
		deadline = time.Time{}
	)
	if *flagSimBudget > 0 {
		deadline = start.Add(*flagSimBudget)
	}
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if next >= from+uint64(seeds) || len(failed) >= 3 || !deadline.IsZero() && time.Now().After(deadline) {
					mu.Unlock()
					return
				}
				seed := next
				next++
				mu.Unlock()
				res := runSimulation(seed, steps)
				mu.Lock()
				total.add(res)
				if res.failure != "" {
					failed = append(failed, res)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	took := time.Since(start).Round(time.Millisecond)
	t.Logf("simulation: %d schedules × %d steps (seeds from %d) in %s; %s", total.runs, steps, from, took, total.summary())
	for _, res := range failed {
		tail := res.trace
		if len(tail) > 120 {
			tail = tail[len(tail)-120:]
		}
		t.Errorf("seed %d failed: %s\nlast steps:\n%s\nreplay: go test ./internal/engine -run '^TestSimulation$' -count=1 -args -sim.seed=%d -sim.steps=%d",
			res.seed, res.failure, strings.Join(tail, "\n"), res.seed, steps)
	}
	if total.runs < seeds && len(failed) == 0 {
		t.Logf("simulation: time budget %s spent after %d of %d schedules", *flagSimBudget, total.runs, seeds)
	}
}

var (
	flagSimSeed    = flag.Uint64("sim.seed", 0, "TestSimulation: replay this one seed and print its trace")
	flagSimSeeds   = flag.Int("sim.seeds", 0, "TestSimulation: number of schedules (default 100, 20 with -short)")
	flagSimFrom    = flag.Uint64("sim.from", 1, "TestSimulation: first seed")
	flagSimSteps   = flag.Int("sim.steps", 120, "TestSimulation: steps of each schedule before the quiet rounds")
	flagSimWorkers = flag.Int("sim.workers", 0, "TestSimulation: schedules run at once (default GOMAXPROCS)")
	flagSimBudget  = flag.Duration("sim.budget", 0, "TestSimulation: stop starting schedules after this long (0: no limit)")
)

const (
	// simStepTimeout is the watchdog of one step: the only real-time bound, generous for a
	// loaded machine; a step that takes longer is a deadlock.
	simStepTimeout = 20 * time.Second
	// simQuietRounds bounds the rounds the fleet takes to converge once the faults stop.
	simQuietRounds = 3
	// simQuietCalls bounds the engine's HTTP calls over the quiet rounds: a session start (a token
	// and two Composite calls), then per round two polls, a re-read and one Collections call (the
	// fleet is under 200 records), and one token when the session expired: 3 + 3×4 + 1.
	simQuietCalls = 16
)

// simResult is the outcome of one schedule.
type simResult struct {
	seed    uint64
	failure string
	trace   []string
	// Figures for the report.
	sends, restarts, quietRounds, quietCalls, edits, crossedParams, crossedRestart, refused int
	approvedReductions                                                                      int
	// lateCommits is true for a world whose writes commit late (simWorld.lateCommits).
	lateCommits bool
}

func (r simResult) summary() string {
	return fmt.Sprintf("%d values sent, %d restarts, %d human edits, converged in %d quiet rounds with %d calls",
		r.sends, r.restarts, r.edits, r.quietRounds, r.quietCalls)
}

type simTotals struct {
	runs, sends, restarts, edits, crossedParams, crossedRestart, refused, maxRounds, maxCalls int
	approvedReductions                                                                        int
	lateCommitWorlds                                                                          int
}

func (t *simTotals) add(r simResult) {
	t.runs++
	t.sends += r.sends
	t.restarts += r.restarts
	t.edits += r.edits
	t.crossedParams += r.crossedParams
	t.crossedRestart += r.crossedRestart
	t.refused += r.refused
	t.approvedReductions += r.approvedReductions
	if r.lateCommits {
		t.lateCommitWorlds++
	}
	t.maxRounds = max(t.maxRounds, r.quietRounds)
	t.maxCalls = max(t.maxCalls, r.quietCalls)
}

func (t simTotals) summary() string {
	return fmt.Sprintf("%d values sent (%d of them access reductions sent with the approval that names them), %d engine restarts, %d human edits (crossed by a write and not attributable: %d parameter values, %d before a restart), %d Licenses left with a write the LMO refused for good, quiet rounds ≤ %d, quiet calls ≤ %d, %d worlds with late commits",
		t.sends, t.approvedReductions, t.restarts, t.edits, t.crossedParams, t.crossedRestart, t.refused, t.maxRounds, t.maxCalls, t.lateCommitWorlds)
}

// runSimulation runs one schedule of steps steps and the quiet rounds after it.
func runSimulation(seed uint64, steps int) (res simResult) {
	res.seed = seed
	w, err := newSimWorld(seed)
	if err != nil {
		res.failure = err.Error()
		return res
	}
	defer func() {
		res.trace = w.trace
		res.sends, res.restarts, res.edits = w.chk.sends, w.restarts, len(w.chk.edits)
		res.crossedParams, res.crossedRestart, res.refused = w.chk.crossedParams, w.chk.crossedRestart, len(w.refused)
		res.approvedReductions = w.chk.approvedReductions
		res.lateCommits = len(w.lateCommits) > 0
	}()
	fail := func() bool {
		if len(w.chk.failures) > 0 {
			res.failure = strings.Join(w.chk.failures, "\n")
			return true
		}
		return false
	}
	for w.step = 1; w.step <= steps; w.step++ {
		if err := guarded(func() { w.topAction(); w.chk.checkFresh(false) }); err != nil {
			res.failure = err.Error()
			return res
		}
		if fail() {
			return res
		}
	}
	if err := guarded(func() { res.quietRounds, res.quietCalls = w.quiet() }); err != nil {
		res.failure = err.Error()
		return res
	}
	fail()
	return res
}

// guarded runs a step under the watchdog.
func guarded(f func()) error {
	done := make(chan string, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Sprintf("panic: %v\n%s", p, debug.Stack())
				return
			}
			done <- ""
		}()
		f()
	}()
	timer := time.NewTimer(simStepTimeout)
	defer timer.Stop()
	select {
	case msg := <-done:
		if msg != "" {
			return fmt.Errorf("%s", msg)
		}
		return nil
	case <-timer.C:
		buf := make([]byte, 1<<20)
		return fmt.Errorf("a step blocked for %s (a deadlock); goroutines:\n%s", simStepTimeout, buf[:runtime.Stack(buf, true)])
	}
}

// quiet stops the faults and runs quiet rounds until the fleet converges (invariant 5); it returns
// the rounds and the engine's calls it took.
func (w *simWorld) quiet() (rounds, calls int) {
	w.step++
	w.logf("faults stop")
	w.clearFaults()
	w.interleaveShare = 0
	w.session.limitUntil = time.Time{}
	before := w.calls
	why := ""
	for rounds = 1; rounds <= simQuietRounds; rounds++ {
		w.step++
		w.clock.Advance(2 * time.Minute)
		if d := w.session.downUntil; w.now().Before(d) {
			w.clock.Advance(d.Sub(w.now()))
		}
		if d := w.eng.Status().Budget.LimitExceededUntil; w.now().Before(d) {
			w.clock.Advance(d.Sub(w.now()))
		}
		w.logf("quiet round %d", rounds)
		w.poll()
		w.model.reconcileAll()
		for i := 0; i < 3 && w.writeTurn() > 0; i++ {
		}
		w.poll()
		w.model.reconcileAll()
		w.chk.checkFresh(false)
		if why = w.converged(); why == "" {
			break
		}
	}
	calls = w.calls - before
	if why != "" {
		w.chk.fail("not converged after %d quiet rounds: %s", simQuietRounds, why)
		return simQuietRounds, calls
	}
	if calls > simQuietCalls {
		w.chk.fail("the quiet rounds took %d calls, more than %d", calls, simQuietCalls)
	}
	w.chk.checkFresh(true)
	w.chk.checkEdits()
	return rounds, calls
}

// converged says what is left to do ("" when nothing): a License the decision procedure, asked
// about the LMO as it is, would still write (unless the LMO refused that write for good), a record
// not read since its last change, a write pending.
func (w *simWorld) converged() string {
	truth := simTruthRecords{w.chk.truth}
	for _, n := range w.model.names() {
		lic := w.model.licenses[n]
		v, rec := w.model.verdict(lic, truth, "")
		if v.Action != decide.ActionUpdate {
			continue
		}
		if st := w.eng.WriteState(rec.ID); st.Err != nil && st.Err.Terminal {
			// The LMO refused the write for good (a Suspended license that was once Active
			// cannot become a Trial, which the decision cannot know): the refusal is reported.
			w.refused[n] = st.Err.Code
			continue
		}
		what := "still asks to write " + writeText(*v.Write)
		if !lic.DeletionTimestamp.IsZero() {
			what = "is being deleted and still asks to write " + writeText(*v.Write)
		}
		return fmt.Sprintf("License %s (%s) %s to %s, which holds %v", n, policyText(lic), what, sfid.Key15(rec.ID), w.chk.truth[sfid.Key15(rec.ID)].Fields)
	}
	for _, id := range w.chk.truth.ids() {
		if kn, ok := w.chk.known[id]; !ok || kn.seq < w.chk.recChange[id] {
			return "record " + id + " was not read since its last change"
		}
		if st := w.eng.WriteState(id); st.Pending {
			return "a write of record " + id + " is pending"
		}
	}
	return ""
}

func policyText(lic *licensingv1alpha1.License) string {
	return fmt.Sprintf("%s, paused %q, approved %q", lic.Spec.ManagementPolicy, lic.Annotations[licensingv1alpha1.AnnotationPaused],
		lic.Annotations[licensingv1alpha1.AnnotationAllowAccessReduction])
}

func firstDiff(a, b []string) int {
	for i := range a {
		if i >= len(b) || a[i] != b[i] {
			return i
		}
	}
	return len(a)
}

func lineAt(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "<end>"
}
