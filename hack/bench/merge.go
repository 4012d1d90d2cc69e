package main

import (
	"context"
	"fmt"
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/lmosim"
)

const (
	// mergeSingles is how many single spec changes the merge phase makes, one after the other.
	mergeSingles = 50
	// mergeBulk is how many Licenses the merge phase changes at once (issue 15's figure). It is five
	// full Collections calls of 200, so no batch waits for the writer's quiet period: a count that is
	// not a multiple of 200 leaves a last, partial batch that does.
	mergeBulk = 1000
	// mergePoll is how often the merge phase reads lmosim's records.
	mergePoll = 50 * time.Millisecond
	// mergeTimeout is the longest the merge phase waits for one change (or the bulk) to reach the LMO.
	mergeTimeout = 2 * time.Minute
)

// mergeTarget is a License whose spec the merge phase changes, and its record.
type mergeTarget struct {
	name  string
	id    string
	seats int64 // the spec's seats before the change
}

// mergeTargets are the Licenses that match their record right now (spec seats = record seats),
// leaving out the drift phase's edited ones (their write-back may still be held or in flight).
func mergeTargets(sim *lmosim.Server, licenses []*licensingv1alpha1.License, ids []string, edited []editTarget) []mergeTarget {
	skip := map[string]bool{}
	for _, e := range edited {
		skip[e.name] = true
	}
	var out []mergeTarget
	for i, l := range licenses {
		if skip[l.Name] || l.Spec.Seats == nil {
			continue
		}
		seats := int64(l.Spec.Seats.IntValue())
		if rec, ok := sim.GetLicense(ids[i]); !ok || int64(rec.Seats) != seats {
			continue
		}
		out = append(out, mergeTarget{name: l.Name, id: ids[i], seats: seats})
	}
	return out
}

// patchSeats sets a License's spec.seats with a JSON merge patch, as `kubectl patch` would.
func patchSeats(ctx context.Context, kube client.Client, name string, seats int64) error {
	lic := &licensingv1alpha1.License{}
	lic.Namespace, lic.Name = namespace, name
	return kube.Patch(ctx, lic, client.RawPatch(types.MergePatchType, fmt.Appendf(nil, `{"spec":{"seats":%d}}`, seats)))
}

// recordSeats reports whether lmosim's record has the seats, read in-process (no API call counted).
func recordSeats(sim *lmosim.Server, id string, seats int64) bool {
	rec, ok := sim.GetLicense(id)
	return ok && int64(rec.Seats) == seats
}

// measureMerge changes settled Licenses' specs (seats + 1, never an access reduction) and times how
// long until lmosim's record has the value: first mergeSingles changes one after the other (the
// clock starts before the PATCH is sent), then mergeBulk changes at once by 32 workers (the clock
// starts before the first PATCH and stops when the last record has its value), counting the
// Salesforce calls of that window by kind.
func measureMerge(ctx context.Context, r *result, kube client.Client, sim *lmosim.Server, simURL string, licenses []*licensingv1alpha1.License, ids []string, edited []editTarget) error {
	targets := mergeTargets(sim, licenses, ids, edited)
	if len(targets) < mergeSingles+1 {
		return fmt.Errorf("merge: only %d Licenses match their record", len(targets))
	}
	singles, bulk := targets[:mergeSingles], targets[mergeSingles:]
	if len(bulk) > mergeBulk {
		bulk = bulk[:mergeBulk]
	}

	// (a) single changes.
	for _, t := range singles {
		want := t.seats + 1
		start := time.Now()
		if err := patchSeats(ctx, kube, t.name, want); err != nil {
			return fmt.Errorf("merge: patching %s: %w", t.name, err)
		}
		for !recordSeats(sim, t.id, want) {
			if time.Since(start) > mergeTimeout {
				r.MergeSingleMissed++
				logf("merge: %s's record did not get seats %d within %s", t.name, want, mergeTimeout)
				break
			}
			if err := sleepCtx(ctx, mergePoll); err != nil {
				return err
			}
		}
		if recordSeats(sim, t.id, want) {
			r.MergeSingle = append(r.MergeSingle, time.Since(start))
		}
	}
	sort.Slice(r.MergeSingle, func(i, j int) bool { return r.MergeSingle[i] < r.MergeSingle[j] })
	if len(r.MergeSingle) > 0 {
		logf("merge: %d single changes, p50 %s, p95 %s, max %s", len(r.MergeSingle),
			percentile(r.MergeSingle, 0.5).Round(10*time.Millisecond), percentile(r.MergeSingle, 0.95).Round(10*time.Millisecond),
			r.MergeSingle[len(r.MergeSingle)-1].Round(10*time.Millisecond))
	}

	// (b) many changes at once.
	before, err := simStats(ctx, simURL)
	if err != nil {
		return err
	}
	r.MergeBulkN = len(bulk)
	start := time.Now()
	patchErr := forEach(ctx, len(bulk), 32, func(i int) error {
		if err := patchSeats(ctx, kube, bulk[i].name, bulk[i].seats+1); err != nil {
			return fmt.Errorf("merge: patching %s: %w", bulk[i].name, err)
		}
		return nil
	})
	if patchErr != nil {
		return patchErr
	}
	r.MergeBulkPatched = time.Since(start)
	pending := bulk
	for len(pending) > 0 && time.Since(start) <= mergeTimeout {
		left := pending[:0]
		for _, t := range pending {
			if !recordSeats(sim, t.id, t.seats+1) {
				left = append(left, t)
			}
		}
		pending = left
		if len(pending) == 0 {
			break
		}
		if err := sleepCtx(ctx, mergePoll); err != nil {
			return err
		}
	}
	r.MergeBulkTime = time.Since(start)
	r.MergeBulkSeen = len(bulk) - len(pending)
	after, err := simStats(ctx, simURL)
	if err != nil {
		return err
	}
	r.MergeBulkCalls = diffCalls(after.Calls, before.Calls)
	logf("merge: %d changes at once (patched in %s), %d/%d records in %s; calls %v", len(bulk), r.MergeBulkPatched.Round(10*time.Millisecond),
		r.MergeBulkSeen, len(bulk), r.MergeBulkTime.Round(10*time.Millisecond), nonZero(r.MergeBulkCalls))
	return nil
}
