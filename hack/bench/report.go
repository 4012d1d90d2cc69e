package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// floor is the fewest Salesforce calls a cold start of N Licenses can take.
type floor struct {
	Token, Packages, Params, LicensePages, ValuePages, Collections int
}

func (f floor) total() int {
	return f.Token + f.Packages + f.Params + f.LicensePages + f.ValuePages + f.Collections
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// floorFor counts what the engine's full load must read and what the writes must send: 1 token,
// 1 page of packages, 1 page of feature parameters, ceil(N/2000) license pages, ceil(values/2000)
// pages of the one value object that has records (sfFma__FeatureParameterInteger__c, one value per
// license), and ceil(changed/200) Collections calls.
func floorFor(r *result) floor {
	return floor{Token: 1, Packages: 1, Params: 1, LicensePages: ceilDiv(r.N, 2000), ValuePages: ceilDiv(r.N, 2000),
		Collections: ceilDiv(r.Changed, 200)}
}

// Derived cold-start figures.
func (r *result) coldTotal() int64 { return sumCalls(r.ColdCalls) }

// separateChecks are LMO checks sent as calls of their own (an Organization query, describes, limits).
// The manager sends none now: the org checks ride in the full load's first Composite call, so this is
// expected to be 0; it is counted so that a regression shows.
func (r *result) separateChecks() int64 {
	return r.ColdCalls["query"] + r.ColdCalls["describe"] + r.ColdCalls["limits"]
}

// loadComposites is the number of Composite calls the full load sends: the first carries the org
// checks, packages and the first license page; the second the feature parameters and value records.
const loadComposites = 2

// coldPolls are the Composite calls beyond the full load's two: the incremental polls that ran
// while the fleet converged.
func (r *result) coldPolls() int64 {
	if c := r.ColdCalls["composite"]; c > loadComposites {
		return c - loadComposites
	}
	return 0
}

// kubeFloor is the Kubernetes floor of the run: the bench's creates of the N Licenses plus a
// trivial client's one status write per License.
func (r *result) kubeFloor() time.Duration { return r.CreateTime + r.StatusFloorTime }

// floorRatio is cold convergence (first create to every License Ready) over the Kubernetes floor.
func (r *result) floorRatio() float64 {
	if r.StatusFloorWritten == 0 || r.kubeFloor() <= 0 {
		return 0
	}
	return r.ReadyTime.Seconds() / r.kubeFloor().Seconds()
}

// statusWritesPerLicense is the manager's successful License status writes until every License
// was Ready, per License.
func (r *result) statusWritesPerLicense() float64 {
	return float64(r.LicenseStatusWrites.OK) / float64(r.N)
}

// kibPerLicense is the manager's peak RSS (VmHWM at the end of its run) per License, in KiB.
func (r *result) kibPerLicense() float64 { return float64(r.RSSPeak) / float64(r.N) }

// mergeP95 is the 95th percentile of the single changes' merge latencies.
func (r *result) mergeP95() time.Duration {
	if len(r.MergeSingle) == 0 {
		return 0
	}
	return percentile(r.MergeSingle, 0.95)
}

func (r *result) steadyPerPoll(poll time.Duration) float64 {
	polls := math.Round(float64(r.SteadyWindow) / float64(poll)) // the window is 10 pollIntervals
	if polls <= 0 {
		return 0
	}
	return float64(sumCalls(r.SteadyCalls)) / polls
}

func mib(kib int64) string { return fmt.Sprintf("%.0f MiB", float64(kib)/1024) }

func mibBytes(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// kibPer is bytes shared among n, in KiB.
func kibPer(b int64, n int) string {
	if n == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f KiB", float64(b)/1024/float64(n))
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

func ratio(a int64, b int) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", float64(a)/float64(b))
}

func kinds(m map[string]int64) string { return nonZero(m) }

func cpuText(m map[string]time.Duration) string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %.0f s", k, m[k].Seconds()))
		}
	}
	return strings.Join(parts, ", ")
}

func mark(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// rows builds the side-by-side table: one row per figure, one column per N, then the floor or target.
func rows(o options, results []*result) [][]string {
	var out [][]string
	add := func(name string, f func(r *result) string, target string) {
		row := []string{name}
		for _, r := range results {
			row = append(row, f(r))
		}
		out = append(out, append(row, target))
	}
	header := []string{"Figure"}
	for _, r := range results {
		header = append(header, fmt.Sprintf("N=%d", r.N))
	}
	out = append(out, append(header, "Floor / target"))
	poll := o.pollInterval
	// The steady and drift phases do not run with -cold-only.
	phase := func(f func(r *result) string) func(r *result) string {
		return func(r *result) string {
			if o.coldOnly {
				return "not measured (-cold-only)"
			}
			return f(r)
		}
	}

	add("Licenses differing from the LMO (30%)", func(r *result) string { return fmt.Sprint(r.Changed) }, "")
	add("Create N Licenses (32 workers)", func(r *result) string { return secs(r.CreateTime) }, "")
	add("Floor: a trivial client writes one status per License (PUT, 32 workers, manager stopped)", func(r *result) string {
		if r.StatusFloorWritten == 0 {
			return "not measured"
		}
		return fmt.Sprintf("%s (%d written)", secs(r.StatusFloorTime), r.StatusFloorWritten)
	}, "")
	add("**Kubernetes floor: create + status writes**", func(r *result) string {
		if r.StatusFloorWritten == 0 {
			return "not measured"
		}
		return secs(r.kubeFloor())
	}, "")
	add("**Cold: first create → every License Ready**", func(r *result) string {
		if r.Ready < r.N {
			return fmt.Sprintf("not reached: %d/%d Ready after %s", r.Ready, r.N, secs(r.ReadyTime))
		}
		return secs(r.ReadyTime)
	}, "≤ 120 s at N=10,000; ≤ 300 s at N=50,000")
	add("**Cold all Ready / Kubernetes floor**", func(r *result) string {
		if r.floorRatio() == 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f", r.floorRatio())
	}, "≤ 1.3 at every N")
	add("**Status writes per License until Ready** (apiserver: licenses/status PUT+PATCH, 2xx)", func(r *result) string {
		if r.LicenseStatusErr != "" {
			return "not read"
		}
		w := r.LicenseStatusWrites
		return fmt.Sprintf("%.2f (%d writes; %d conflicts, %d other errors)", r.statusWritesPerLicense(), w.OK, w.Conflict, w.Other)
	}, "≤ 1.2")
	add("Manager PUT+PATCH per License until Ready (every resource: its client metric has no resource label)", func(r *result) string {
		return ratio(r.ColdKube["PUT"]+r.ColdKube["PATCH"], r.N)
	}, "upper bound of the row above")
	add("Cold: Salesforce calls, raw total", func(r *result) string { return fmt.Sprint(r.coldTotal()) }, "")
	add("Cold: calls by kind", func(r *result) string { return kinds(r.ColdCalls) }, "")
	add("Cold: of which separate LMO checks (query, describe, limits calls)", func(r *result) string {
		return fmt.Sprint(r.separateChecks())
	}, "0 expected: the org checks ride in the load's Composite")
	add("Cold: of which incremental polls during convergence (composite − 2 of the load)", func(r *result) string {
		return fmt.Sprint(r.coldPolls())
	}, "not in the floor")
	add("Floor: 1 token + 1 package page + 1 parameter page + license pages + value pages + Collections", func(r *result) string {
		f := floorFor(r)
		return fmt.Sprintf("%d = 1+1+1+%d+%d+%d", f.total(), f.LicensePages, f.ValuePages, f.Collections)
	}, "")
	add("**Cold: calls / floor (raw)**", func(r *result) string { return ratio(r.coldTotal(), floorFor(r).total()) }, "≤ 1.05 at N=10,000 and 50,000")
	add("Cold: (calls − convergence polls) / floor", func(r *result) string {
		return ratio(r.coldTotal()-r.separateChecks()-r.coldPolls(), floorFor(r).total())
	}, "")
	add("Cold: records written", func(r *result) string { return fmt.Sprint(r.ColdWritten) }, "= differing Licenses")
	add("**Steady: calls in 10 pollIntervals, nothing changing**", phase(func(r *result) string {
		return fmt.Sprintf("%d in %s (%s)", sumCalls(r.SteadyCalls), secs(r.SteadyWindow), kinds(r.SteadyCalls))
	}), "floor 10")
	add("**Steady: calls per pollInterval**", phase(func(r *result) string { return fmt.Sprintf("%.2f", r.steadyPerPoll(poll)) }), "≤ 1 at both N")
	add("**Drift visible in status.drift: median / p95 / max**", phase(func(r *result) string {
		if r.DriftSeen == 0 {
			return fmt.Sprintf("seen on 0/%d", r.Edits)
		}
		return fmt.Sprintf("%s / %s / %s (seen %d/%d)", secs(r.DriftMedian), secs(r.DriftP95), secs(r.DriftMax), r.DriftSeen, r.Edits)
	}), fmt.Sprintf("p95 ≤ pollInterval + 5 s = %s", secs(poll+5*time.Second)))
	add("Drift phase: operator calls (edits excluded)", phase(func(r *result) string {
		return fmt.Sprintf("%d in %s (%s)", sumCalls(r.DriftCalls), secs(r.DriftWindow), kinds(r.DriftCalls))
	}), "")
	add("**Merge to LMO, one change at a time: p50 / p95 / max**", func(r *result) string {
		if !r.MergeRan || len(r.MergeSingle) == 0 {
			return "not measured"
		}
		return fmt.Sprintf("%s / %s / %s (%d/%d arrived)", secs(percentile(r.MergeSingle, 0.5)), secs(r.mergeP95()),
			secs(r.MergeSingle[len(r.MergeSingle)-1]), len(r.MergeSingle), len(r.MergeSingle)+r.MergeSingleMissed)
	}, "p95 ≤ 3 s")
	add("**Merge to LMO, many changes at once: until the last record has its value**", func(r *result) string {
		if !r.MergeRan || r.MergeBulkN == 0 {
			return "not measured"
		}
		return fmt.Sprintf("%s for %d (%d arrived; PATCHes sent in %s)", secs(r.MergeBulkTime), r.MergeBulkN, r.MergeBulkSeen, secs(r.MergeBulkPatched))
	}, "≤ 20 s for 1,000")
	add("Merge to LMO, many changes at once: Salesforce calls in that window", func(r *result) string {
		if !r.MergeRan || r.MergeBulkN == 0 {
			return "–"
		}
		return kinds(r.MergeBulkCalls)
	}, "≤ 5 collectionsPatch plus polls")
	add("**Manager peak RSS (VmHWM) when all Ready**", func(r *result) string { return mib(r.RSSAfterReady) }, "≤ 200 MiB at N=10,000; ≤ 400 MiB at N=50,000")
	add("**Manager peak RSS per License (VmHWM at the end / N)**", func(r *result) string {
		return fmt.Sprintf("%.1f KiB", r.kibPerLicense())
	}, "≤ 8 KiB at N=50,000")
	add("Manager peak RSS (VmHWM) at the end / VmRSS at the end", func(r *result) string {
		return mib(r.RSSPeak) + " / " + mib(r.RSSEnd)
	}, "")
	add("CPU during cold convergence, by process", func(r *result) string { return cpuText(r.ColdCPU) }, "")
	add("Manager CPU, whole run", func(r *result) string { return secs(r.ManagerCPU) }, "")
	add("Manager's Kubernetes API requests until all Ready, by method", func(r *result) string { return kinds(r.ColdKube) }, "")
	add("License watch events the bench received until all Ready", func(r *result) string { return strconv.Itoa(r.WatchEvents) }, "")
	add("Manager log: lines / client-side throttling lines", func(r *result) string {
		return fmt.Sprintf("%d / %d", r.LogLines, r.ThrottleLogs)
	}, "")
	perDay := 86400 / poll.Seconds()
	add("Comparison: one read per License per poll, calls per day", func(r *result) string {
		return fmt.Sprintf("%.0f", float64(r.N)*perDay)
	}, "N × 86400 / pollInterval")
	add("This operator at steady state, calls per day", phase(func(r *result) string {
		return fmt.Sprintf("%.0f", r.steadyPerPoll(poll)*perDay)
	}), "Enterprise Edition: 100,000 + 1,000 per user license")
	return out
}

func printTable(w io.Writer, o options, results []*result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, row := range rows(o, results) {
		for i := range row {
			row[i] = strings.ReplaceAll(row[i], "**", "")
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	_ = tw.Flush()
}

// verdicts are the targets, each with what was measured.
func verdicts(o options, results []*result) []string {
	var out []string
	for _, r := range results {
		out = append(out, coldVerdicts(r)...)
		out = append(out, memoryVerdicts(r)...)
		if r.MergeRan {
			out = append(out, mergeVerdicts(r)...)
		} else if r.N >= 10000 {
			out = append(out, fmt.Sprintf("Merge to LMO N=%d: not measured (-merge=false).", r.N))
		}
		if o.coldOnly {
			out = append(out, fmt.Sprintf("Steady state and drift N=%d: not measured (-cold-only).", r.N))
			continue
		}
		out = append(out, fmt.Sprintf("Steady state N=%d, ≤ 1 call per pollInterval: %s (%.2f).", r.N, mark(r.steadyPerPoll(o.pollInterval) <= 1.0001), r.steadyPerPoll(o.pollInterval)))
		out = append(out, fmt.Sprintf("Drift N=%d, p95 ≤ pollInterval + 5 s: %s (p95 %s, seen %d/%d).", r.N,
			mark(r.DriftSeen == r.Edits && r.DriftP95 <= o.pollInterval+5*time.Second), secs(r.DriftP95), r.DriftSeen, r.Edits))
	}
	return out
}

// coldVerdicts are the cold-convergence targets: time against the Kubernetes floor of the run and
// in absolute terms, status writes per License, and Salesforce calls against their floor.
func coldVerdicts(r *result) []string {
	var out []string
	allReady := r.Ready == r.N
	if r.StatusFloorWritten > 0 {
		out = append(out, fmt.Sprintf("Cold convergence N=%d, all Ready ≤ 1.3 × the Kubernetes floor of the run: %s (%s = %.2f × floor %s = create %s + status writes %s).",
			r.N, mark(allReady && r.floorRatio() <= 1.3), secs(r.ReadyTime), r.floorRatio(), secs(r.kubeFloor()), secs(r.CreateTime), secs(r.StatusFloorTime)))
	} else {
		out = append(out, fmt.Sprintf("Cold convergence N=%d against the Kubernetes floor: not measured (the status-write floor did not run).", r.N))
	}
	switch r.N {
	case 10000:
		out = append(out, fmt.Sprintf("Cold convergence N=%d, all Ready ≤ 120 s: %s (%s, %d/%d Ready).", r.N, mark(allReady && r.ReadyTime <= 120*time.Second), secs(r.ReadyTime), r.Ready, r.N))
	case 50000:
		out = append(out, fmt.Sprintf("Cold convergence N=%d, all Ready ≤ 300 s: %s (%s, %d/%d Ready).", r.N, mark(allReady && r.ReadyTime <= 300*time.Second), secs(r.ReadyTime), r.Ready, r.N))
	}
	if r.LicenseStatusErr == "" {
		out = append(out, fmt.Sprintf("Status writes per License until Ready N=%d, ≤ 1.2: %s (%.2f: %d License status writes by the manager, %d conflicts besides).",
			r.N, mark(r.statusWritesPerLicense() <= 1.2), r.statusWritesPerLicense(), r.LicenseStatusWrites.OK, r.LicenseStatusWrites.Conflict))
	} else {
		out = append(out, fmt.Sprintf("Status writes per License until Ready N=%d: not read (%s); the manager's PUT+PATCH per License, every resource, were %s.",
			r.N, r.LicenseStatusErr, ratio(r.ColdKube["PUT"]+r.ColdKube["PATCH"], r.N)))
	}
	if r.N == 10000 || r.N == 50000 {
		f := floorFor(r).total()
		out = append(out, fmt.Sprintf("Cold convergence N=%d, calls ≤ 1.05 × floor: %s (raw %d calls = %s × floor %d; %d separate LMO checks; without the %d convergence polls %s).",
			r.N, mark(float64(r.coldTotal()) <= 1.05*float64(f)), r.coldTotal(), ratio(r.coldTotal(), f), f,
			r.separateChecks(), r.coldPolls(), ratio(r.coldTotal()-r.separateChecks()-r.coldPolls(), f)))
	}
	return out
}

// memoryVerdicts are the manager's peak RSS targets: 200 MiB at N=10,000, 8 KiB per License and
// 400 MiB at N=50,000; other sizes are reported per License.
func memoryVerdicts(r *result) []string {
	peak := fmt.Sprintf("%s when all Ready, %s at the end = %.1f KiB per License", mib(r.RSSAfterReady), mib(r.RSSPeak), r.kibPerLicense())
	switch r.N {
	case 10000:
		return []string{fmt.Sprintf("Manager peak RSS N=%d ≤ 200 MiB: %s (%s).", r.N, mark(r.RSSPeak <= 200*1024), peak)}
	case 50000:
		return []string{fmt.Sprintf("Manager peak RSS N=%d ≤ 8 KiB per License (≤ 400 MiB): %s (%s).", r.N,
			mark(r.kibPerLicense() <= 8 && r.RSSPeak <= 400*1024), peak)}
	default:
		return []string{fmt.Sprintf("Manager peak RSS N=%d: reported, no target (%s).", r.N, peak)}
	}
}

// mergeVerdicts are the merge-to-LMO targets: one change p95 ≤ 3 s; 1,000 at once ≤ 20 s in ≤ 5
// Collections calls plus polls.
func mergeVerdicts(r *result) []string {
	var out []string
	if n := len(r.MergeSingle) + r.MergeSingleMissed; n > 0 {
		out = append(out, fmt.Sprintf("Merge to LMO N=%d, one change p95 ≤ 3 s: %s (p95 %s over %d changes, %d arrived).", r.N,
			mark(r.MergeSingleMissed == 0 && r.mergeP95() <= 3*time.Second), secs(r.mergeP95()), n, len(r.MergeSingle)))
	}
	if r.MergeBulkN > 0 && r.MergeBulkN < mergeBulk {
		out = append(out, fmt.Sprintf("Merge to LMO N=%d, %d changes at once (fewer settled Licenses than the target's %d): reported, no target (%s, %d/%d arrived; calls %s).",
			r.N, r.MergeBulkN, mergeBulk, secs(r.MergeBulkTime), r.MergeBulkSeen, r.MergeBulkN, kinds(r.MergeBulkCalls)))
	} else if r.MergeBulkN > 0 {
		coll := r.MergeBulkCalls["collectionsPatch"]
		out = append(out, fmt.Sprintf("Merge to LMO N=%d, %d changes at once ≤ 20 s in ≤ 5 Collections calls plus polls: %s (%s, %d/%d arrived; %d collectionsPatch; all calls %s).",
			r.N, r.MergeBulkN, mark(r.MergeBulkSeen == r.MergeBulkN && r.MergeBulkTime <= 20*time.Second && coll <= 5),
			secs(r.MergeBulkTime), r.MergeBulkSeen, r.MergeBulkN, coll, kinds(r.MergeBulkCalls)))
	}
	return out
}

func writeReport(o options, results []*result, runErr error) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmarks\n\n")
	fmt.Fprintf(&b, "Measured by `hack/bench` (issue 6): the cached envtest control plane, lmosim in the bench process on\n")
	fmt.Fprintf(&b, "127.0.0.1, and the manager as a separate process (peak RSS from `/proc/<pid>/status` VmHWM). Every figure\n")
	fmt.Fprintf(&b, "below was measured by the run described here; nothing is estimated.\n\n")
	fmt.Fprintf(&b, "- Date: %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- Machine: %s; shared with other work while the bench ran\n", machine())
	fmt.Fprintf(&b, "- Load average (/proc/loadavg, 1/5/15 min): %s at the start, %s at the end\n", o.loadStart, loadavg())
	fmt.Fprintf(&b, "- Command: `%s`\n", o.command)
	fmt.Fprintf(&b, "- Manager: %s\n", o.managerSrc)
	if o.memoryLimit > 0 {
		fmt.Fprintf(&b, "- Memory limit: the manager ran as in a container limited to %s (LMO_MEMORY_LIMIT=%d, so a Go soft memory limit of 90%% of it)\n",
			mibBytes(o.memoryLimit), o.memoryLimit)
	} else {
		fmt.Fprintf(&b, "- Memory limit: none (the manager ran without LMO_MEMORY_LIMIT, so without a Go soft memory limit)\n")
	}
	fmt.Fprintf(&b, "- Setup: one LicenseManagementOrg (pollInterval %s), one ManagedPackage (033000000000001AAA with one\n", o.pollInterval)
	fmt.Fprintf(&b, "  LMO-to-Subscriber Integer parameter, acme__MaxProjects), N Active licenses with explicit subscriber ids\n")
	fmt.Fprintf(&b, "  read back through the REST API as lmo-admin; N Licenses of which 30%% differ (10%% seats up, 10%%\n")
	fmt.Fprintf(&b, "  expiration later, 10%% acme__MaxProjects), created by 32 concurrent workers (client QPS 2000).\n")
	fmt.Fprintf(&b, "  Stats are reset after seeding and before the manager starts; the clock starts at the first create\n")
	fmt.Fprintf(&b, "  (the LicenseManagementOrg), so cold convergence includes the manager's start, the LMO checks and the\n")
	fmt.Fprintf(&b, "  full load. Ready is followed through one watch of every License (an informer); a License counts as\n")
	fmt.Fprintf(&b, "  Ready when its Ready condition is True for its generation, and the time is when the last one became so.\n")
	fmt.Fprintf(&b, "  Drift: %d matching records edited through the REST API as lmo-admin (seats + 5) over about 5 s;\n", o.edits)
	fmt.Fprintf(&b, "  the labelled Licenses are listed every 500 ms until status.drift shows seats at the new value.\n")
	fmt.Fprintf(&b, "- Kubernetes floor: the bench's own creates of the N Licenses (the create row, measured while the manager\n")
	fmt.Fprintf(&b, "  runs) plus a trivial client's one status write per License, timed in the same run on the same\n")
	fmt.Fprintf(&b, "  control plane after the manager stopped: a PUT of licenses/status per License by 32 workers (client\n")
	fmt.Fprintf(&b, "  QPS 2000) carrying the status the manager left there (so the operator's size and shape) with the Ready\n")
	fmt.Fprintf(&b, "  condition's lastTransitionTime and lastSyncTime set to now, so that no write is a no-op.\n")
	fmt.Fprintf(&b, "- Status writes per License: the apiserver's apiserver_request_total for licenses/status (PUT, PATCH,\n")
	fmt.Fprintf(&b, "  APPLY; 2xx, conflicts counted apart) read when every License was Ready, when the manager was the only\n")
	fmt.Fprintf(&b, "  client writing a License's status. The manager's own rest_client_requests_total has no resource label,\n")
	fmt.Fprintf(&b, "  so its PUT+PATCH per License (every resource) is shown as an upper bound.\n")
	fmt.Fprintf(&b, "- Merge to LMO: once the Licenses are settled (after the drift phase; with -cold-only right after cold\n")
	fmt.Fprintf(&b, "  convergence), %d Licenses whose record matches get spec.seats + 1 (a JSON merge patch) one after the\n", mergeSingles)
	fmt.Fprintf(&b, "  other, the clock running from before the PATCH until lmosim's record (read in-process every %s) has\n", mergePoll)
	fmt.Fprintf(&b, "  the value; then up to %d others the same way at once (32 workers), until the last record has its\n", mergeBulk)
	fmt.Fprintf(&b, "  value, with the Salesforce calls of that window by kind.\n\n")
	if runErr != nil {
		fmt.Fprintf(&b, "**The run stopped early: %s.**\n\n", runErr)
	}
	fmt.Fprintf(&b, "## Figures, floor and targets\n\n")
	rs := rows(o, results)
	for i, row := range rs {
		cells := make([]string, len(row))
		for j, c := range row {
			cells[j] = strings.ReplaceAll(c, "|", "\\|")
		}
		fmt.Fprintf(&b, "| %s |\n", strings.Join(cells, " | "))
		if i == 0 {
			fmt.Fprintf(&b, "|%s\n", strings.Repeat("---|", len(row)))
		}
	}
	fmt.Fprintf(&b, "\nThe floor counts what the engine's full load must read (packages 1 page, feature parameters 1 page,\n")
	fmt.Fprintf(&b, "licenses ceil(N/2000) pages, acme__MaxProjects values ceil(N/2000) pages of\n")
	fmt.Fprintf(&b, "sfFma__FeatureParameterInteger__c) plus 1 token and ceil(differing/200) Collections calls. The engine\n")
	fmt.Fprintf(&b, "sends the first pages in TWO Composite calls (the org checks — Organization query, describes of the\n")
	fmt.Fprintf(&b, "License and FeatureParameter objects — with packages and licenses; then parameters and Boolean,\n")
	fmt.Fprintf(&b, "Integer and Date values), so it can read fewer calls than pages; the following pages are queryMore\n")
	fmt.Fprintf(&b, "calls. API usage comes from the Sforce-Limit-Info header, so the only call before the load is the\n")
	fmt.Fprintf(&b, "token; separate `query`, `describe` or `limits` calls are counted in their own row and expected to be\n")
	fmt.Fprintf(&b, "0. Not in the floor and shown separately: the incremental polls (one Composite each) that ran while\n")
	fmt.Fprintf(&b, "the fleet converged.\n\n")
	fmt.Fprintf(&b, "## Targets\n\n")
	for _, v := range verdicts(o, results) {
		fmt.Fprintf(&b, "- %s\n", v)
	}
	fmt.Fprintf(&b, "\n")
	fmt.Fprintf(&b, "## Where the manager's memory goes\n\n")
	fmt.Fprintf(&b, "The manager's heap profile when every License was Ready (`/debug/pprof/heap?gc=1`, so live memory only),\n")
	fmt.Fprintf(&b, "its top allocation sites by bytes in use (`go tool pprof -top -sample_index=inuse_space`).\n\n")
	for _, r := range results {
		if r.HeapTop == "" {
			continue
		}
		fmt.Fprintf(&b, "N=%d: %s in use on the heap (%s per License); VmHWM %s.\n\n```\n%s\n```\n\n", r.N, mibBytes(r.HeapInuse),
			kibPer(r.HeapInuse, r.N), mib(r.RSSAfterReady), strings.TrimSpace(r.HeapTop))
	}
	if notes := notReadyNotes(results); notes != "" {
		fmt.Fprintf(&b, "%s\n", notes)
	}
	return os.WriteFile(o.out, []byte(b.String()), 0o644)
}

func notReadyNotes(results []*result) string {
	var b strings.Builder
	for _, r := range results {
		if r.Ready < r.N && len(r.NotReady) > 0 {
			fmt.Fprintf(&b, "- N=%d: Licenses not Ready at the end of the wait, by Ready reason: %v\n", r.N, r.NotReady)
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return "## Not Ready\n\n" + b.String()
}
