package engine_test

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/drift"
	"github.com/lmo-operator/lmo-operator/internal/lmosim"
	"github.com/lmo-operator/lmo-operator/internal/salesforce"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/sfid"
)

// The schedule's actions. Each step draws one from the seed's generator by weight; some also run
// while a call is held in flight (simInFlight).

type simAction struct {
	name   string
	weight int
	run    func(w *simWorld)
}

var simActions = []simAction{
	{"reconcile", 18, func(w *simWorld) { w.model.reconcileQueued(1 + w.rng.IntN(3)) }},
	{"reconcile all", 3, func(w *simWorld) { w.model.reconcileAll() }},
	{"poll", 10, (*simWorld).poll},
	{"write", 14, func(w *simWorld) { w.writeTurn() }},
	{"spec edit", 7, (*simWorld).specEdit},
	{"pause", 3, func(w *simWorld) { w.toggleAnnotation(licensingv1alpha1.AnnotationPaused) }},
	{"approve", 3, (*simWorld).approve},
	{"policy", 3, (*simWorld).togglePolicy},
	{"create", 2, (*simWorld).createLicense},
	{"delete", 2, (*simWorld).deleteLicense},
	{"human edit", 8, (*simWorld).humanEdit},
	{"usage", 2, (*simWorld).usageReport},
	{"install", 1, (*simWorld).install},
	{"uninstall", 1, (*simWorld).uninstall},
	{"fault", 4, (*simWorld).addFault},
	{"clear faults", 2, (*simWorld).clearFaults},
	{"full load", 1, (*simWorld).fullLoad},
	{"restart", 1, (*simWorld).restart},
	{"wait", 3, func(w *simWorld) { w.wait(30*time.Second + time.Duration(w.rng.IntN(150))*time.Second) }},
	{"long wait", 1, func(w *simWorld) { w.wait(time.Hour + time.Duration(w.rng.IntN(8*60))*time.Minute) }},
}

var simTopWeight = func() int {
	top := 0
	for _, a := range simActions {
		top += a.weight
	}
	return top
}()

// topAction is one step of the schedule.
func (w *simWorld) topAction() {
	// Whole seconds and a fraction: several steps share a second of SystemModstamp.
	w.clock.Advance(time.Duration(1+w.rng.IntN(3))*time.Second + time.Duration(w.rng.IntN(1000))*time.Millisecond)
	if w.usageResetStep != 0 && w.step >= w.usageResetStep {
		w.usageResetStep = 0
		w.srv.SetAPIUsage(0)
		w.logf("a new day: the API allocation is back")
	}
	n := w.rng.IntN(simTopWeight)
	for _, a := range simActions {
		if n < a.weight {
			w.logf("> %s", a.name)
			a.run(w)
			return
		}
		n -= a.weight
	}
}

// nestedAction is an action run while a call is in flight, drawn by the weights given.
func (w *simWorld) nestedAction(weights map[string]int) {
	w.clock.Advance(time.Duration(w.rng.IntN(2)) * time.Second)
	total := 0
	for _, a := range simActions {
		total += weights[a.name]
	}
	n := w.rng.IntN(total)
	for _, a := range simActions {
		if n < weights[a.name] {
			w.logf("> %s", a.name)
			a.run(w)
			return
		}
		n -= weights[a.name]
	}
}

func (w *simWorld) wait(d time.Duration) {
	w.clock.Advance(d)
	w.logf("  +%s", d)
}

// pickLicense picks a License, or nil when there is none.
func (w *simWorld) pickLicense() *licensingv1alpha1.License {
	names := w.model.names()
	if len(names) == 0 {
		return nil
	}
	return w.model.licenses[names[w.rng.IntN(len(names))]]
}

func (w *simWorld) specEdit() {
	lic := w.pickLicense()
	if lic == nil {
		return
	}
	what := w.model.editSpec(lic, w.rng.IntN(4))
	w.model.queue[lic.Name] = true
	w.logf("  %s: %s", lic.Name, what)
}

func (w *simWorld) toggleAnnotation(key string) {
	lic := w.pickLicense()
	if lic == nil {
		return
	}
	if lic.Annotations[key] == "true" {
		delete(lic.Annotations, key)
	} else {
		lic.Annotations[key] = "true"
	}
	w.model.queue[lic.Name] = true
	w.logf("  %s: %s=%q", lic.Name, key, lic.Annotations[key])
}

// approve is a reviewer at work on one License: mostly approving the change it holds as the
// operator names it (status.heldChange.approval, from the mirror), else setting the legacy "true"
// (which approves nothing) or taking the approval away. Each approval given is registered with the
// field values it approves, for the checker.
func (w *simWorld) approve() {
	lic := w.pickLicense()
	if lic == nil {
		return
	}
	key := licensingv1alpha1.AnnotationAllowAccessReduction
	v, rec := w.model.verdict(lic, w.eng, w.eng.Status().WritesBlocked)
	switch n := w.rng.IntN(4); {
	case n < 2 && v.Approval != "" && rec != nil:
		lic.Annotations[key] = v.Approval
		approved := map[simKey]string{}
		for _, d := range v.Drift {
			approved[simKey{sfid.Key15(rec.ID), d.Field.String()}] = d.Desired
		}
		w.approvals[v.Approval] = approved
	case n < 3 && lic.Annotations[key] != "true":
		lic.Annotations[key] = "true"
	default:
		delete(lic.Annotations, key)
	}
	w.model.queue[lic.Name] = true
	w.logf("  %s: %s=%q", lic.Name, key, lic.Annotations[key])
}

func (w *simWorld) togglePolicy() {
	lic := w.pickLicense()
	if lic == nil {
		return
	}
	if w.rng.IntN(3) == 0 {
		if lic.Spec.DeletionPolicy == licensingv1alpha1.DeletionPolicySuspend {
			lic.Spec.DeletionPolicy = licensingv1alpha1.DeletionPolicyOrphan
		} else {
			lic.Spec.DeletionPolicy = licensingv1alpha1.DeletionPolicySuspend
		}
		w.logf("  %s: deletionPolicy %s", lic.Name, lic.Spec.DeletionPolicy)
	} else {
		if lic.Spec.ManagementPolicy == licensingv1alpha1.PolicyObserve {
			lic.Spec.ManagementPolicy = licensingv1alpha1.PolicyEnforce
		} else {
			lic.Spec.ManagementPolicy = licensingv1alpha1.PolicyObserve
		}
		w.logf("  %s: managementPolicy %s", lic.Name, lic.Spec.ManagementPolicy)
	}
	w.model.queue[lic.Name] = true
}

func (w *simWorld) createLicense() {
	// Mostly for a subscriber no License names yet; sometimes a second one (a duplicate).
	var free []string
	for _, sub := range simSubscribers {
		if w.model.checkerOwner(sub) == nil {
			free = append(free, sub)
		}
	}
	sub := simSubscribers[w.rng.IntN(len(simSubscribers))]
	if len(free) > 0 && w.rng.IntN(5) > 0 {
		sub = free[w.rng.IntN(len(free))]
	}
	lic := w.model.create(sub)
	w.logf("  %s for %s: %+v", lic.Name, lic.Spec.SubscriberOrgID[:15], simDesired(lic.Spec))
}

func (w *simWorld) deleteLicense() {
	lic := w.pickLicense()
	if lic == nil || !lic.DeletionTimestamp.IsZero() {
		return
	}
	ts := metav1.NewTime(w.now().Truncate(time.Second))
	lic.DeletionTimestamp = &ts
	w.model.queue[lic.Name] = true
	w.logf("  %s deleted (deletionPolicy %s)", lic.Name, lic.Spec.DeletionPolicy)
}

// liveRecord picks a record that is not Uninstalled, or "" when there is none.
func (w *simWorld) liveRecord() string {
	var live []string
	for _, id := range w.chk.truth.ids() {
		if w.chk.truth[id].Fields[drift.FieldStatus] != "Uninstalled" {
			live = append(live, id)
		}
	}
	if len(live) == 0 {
		return ""
	}
	return live[w.rng.IntN(len(live))]
}

// humanEdit is Dana Admin editing a license field or a feature parameter value through the REST
// API.
func (w *simWorld) humanEdit() {
	id := w.liveRecord()
	if id == "" {
		return
	}
	rec := w.chk.truth[id]
	today := w.now().UTC()
	date := func(days int) string { return today.AddDate(0, 0, days).Format(time.DateOnly) }
	sobject, target, fields := salesforce.LicenseObject, rec.ID, map[string]any{}
	switch w.rng.IntN(5) {
	case 0:
		fields[salesforce.FieldStatus] = []string{"Active", "Suspended", "Trial"}[w.rng.IntN(3)]
	case 1:
		fields[salesforce.FieldSeats] = []int64{5, 33, 50, -1}[w.rng.IntN(4)]
	case 2:
		fields[salesforce.FieldExpiration] = []any{date(20), date(70), date(-2), nil}[w.rng.IntN(4)]
	case 3:
		sobject, target = salesforce.FeatureParameterInteger, rec.ParamRecords["acme__MaxProjects"]
		fields[salesforce.FieldFeatureParameterValue] = []int64{5, 20, 42}[w.rng.IntN(3)]
	default:
		sobject, target = salesforce.FeatureParameterBoolean, rec.ParamRecords["acme__Beta"]
		fields[salesforce.FieldFeatureParameterValue] = w.rng.IntN(2) == 0
	}
	admin, err := w.adminClient()
	if err != nil {
		w.logf("  Dana cannot log in: %v", short(err))
		return
	}
	err = w.mutate(simAdminName, func() error {
		return admin.PatchRecord(w.ctx, sobject, target, fields, time.Time{})
	})
	w.logf("  Dana patches %s %v: %v", sfid.Key15(target), fields, err)
}

// usageReport is the subscriber org reporting its seats in use and a Subscriber-to-LMO parameter.
func (w *simWorld) usageReport() {
	id := w.liveRecord()
	if id == "" {
		return
	}
	used := float64([]int{0, 8, 25, 60}[w.rng.IntN(4)])
	active := float64(w.rng.IntN(50))
	err := w.mutate(simSubscriber, func() error {
		_, err := w.srv.UpdateFromSubscriber(id, lmosim.SubscriberUpdate{UsedLicenses: &used,
			FeatureParameters: map[string]any{"acme__ActiveUsers": active}})
		return err
	})
	w.logf("  subscriber of %s reports %v seats used: %v", id, used, err)
}

func (w *simWorld) install() {
	sub := simSubscribers[w.rng.IntN(len(simSubscribers))]
	err := w.mutate(simSubscriber, func() error {
		l, err := w.srv.Install(lmosim.InstallRequest{PackageID: simPackageID, SubscriberOrgID: sub})
		if err == nil {
			w.records = append(w.records, l.ID)
		}
		return err
	})
	w.logf("  %s installs: %v", sub[:15], err)
}

func (w *simWorld) uninstall() {
	id := w.liveRecord()
	if id == "" {
		return
	}
	err := w.mutate(simSubscriber, func() error {
		_, err := w.srv.Uninstall(id)
		return err
	})
	w.logf("  %s uninstalled: %v", id, err)
}

// addFault injects one fault: in lmosim, seeded from the schedule, or in the transport.
func (w *simWorld) addFault() {
	var f lmosim.Fault
	switch w.rng.IntN(10) {
	case 0:
		f = lmosim.Fault{Operation: "composite", Status: 503, Probability: 0.3}
	case 1:
		f = lmosim.Fault{Operation: "collectionsPatch", Status: 500, Probability: 0.4}
	case 2:
		f = lmosim.Fault{Operation: "collectionsPatch", LockRowShare: 0.5, Probability: 0.7}
	case 3:
		f = lmosim.Fault{Operation: "*", LimitExceeded: true, Count: 1 + w.rng.IntN(3)}
	case 4:
		f = lmosim.Fault{ExpireTokensNow: true}
	case 5:
		f = lmosim.Fault{Operation: "token", Status: 503, Count: 1}
	case 6, 7:
		w.lostShare = 0.3 + 0.4*w.rng.Float64()
		w.logf("  %.0f%% of Collections answers are lost after the commit", 100*w.lostShare)
		return
	case 8:
		w.srv.SetAPIUsage(5_000_000 - 100_000)
		w.usageResetStep = w.step + 3 + w.rng.IntN(10)
		w.logf("  the API budget is under the reserve")
		return
	default:
		w.srv.SetAPIUsage(5_000_000)
		w.usageResetStep = w.step + 3 + w.rng.IntN(10)
		w.logf("  the daily API limit is spent")
		return
	}
	f.Seed = w.rng.Uint64() | 1
	if err := w.srv.AddFault(f); err != nil {
		w.chk.fail("simulation defect: AddFault(%+v): %v", f, err)
	}
	w.logf("  fault %s", faultText(f))
}

func (w *simWorld) clearFaults() {
	w.srv.ClearFaults()
	for _, f := range w.lateCommits {
		if err := w.srv.AddFault(f); err != nil {
			w.chk.fail("simulation defect: AddFault(%+v): %v", f, err)
		}
	}
	w.lostShare = 0
	w.usageResetStep = 0
	w.srv.SetAPIUsage(0)
}

func faultText(f lmosim.Fault) string {
	switch {
	case f.ExpireTokensNow:
		return "every token expires"
	case f.LockRowShare > 0:
		return fmt.Sprintf("%s: %.0f%% of records UNABLE_TO_LOCK_ROW (p=%.1f)", f.Operation, 100*f.LockRowShare, f.Probability)
	case f.LimitExceeded:
		return fmt.Sprintf("%s: REQUEST_LIMIT_EXCEEDED ×%d", f.Operation, f.Count)
	}
	return fmt.Sprintf("%s: %d (p=%.1f, count %d)", f.Operation, f.Status, f.Probability, f.Count)
}
