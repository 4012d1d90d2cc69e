package controllers

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/drift"
	"github.com/lmo-operator/lmo-operator/internal/engine"
	"github.com/lmo-operator/lmo-operator/internal/lmoctl"
)

// verdict is what a License gets, as `lmoctl plan` names it.
type verdict struct{ Action, Reason string }

// TestPlanSaysWhatTheControllerDoes runs `lmoctl plan`'s decision and the License controller over
// the same Licenses and records, and compares what each says happens to every License: the plan's
// action and reason, and what the controller did (a write queued, or the condition it set).
func TestPlanSaysWhatTheControllerDoes(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	org := func(n int) string { return "00D5g0000000" + string(rune('A'+n)) + "00AAA" }
	id := func(n int) string { return "a0N0000000000" + string(rune('A'+n)) + "0AAA" }
	rec := func(n int, mutate ...func(*engine.License)) engine.License {
		r := engine.License{ID: id(n), Name: "L-" + id(n)[13:14], PackageID: testPackageID, SubscriberOrgID: org(n), Status: "Active",
			Seats: ptrTo[int64](50), UsedLicenses: ptrTo[int64](12), Expiration: "2027-06-30", InstallDate: "2026-01-10",
			Params: engine.ParamValues{{Name: "acme__MaxProjects", DataType: "Integer", Direction: "LMO to Subscriber", Value: "20"}}}
		for _, m := range mutate {
			m(&r)
		}
		return r
	}
	type spec = func(*licensingv1alpha1.License)
	sub := func(n int, more ...spec) spec {
		return func(l *licensingv1alpha1.License) {
			l.Spec.SubscriberOrgID = org(n)
			for _, m := range more {
				m(l)
			}
		}
	}
	seats := func(n int) spec {
		return func(l *licensingv1alpha1.License) { l.Spec.Seats = ptrTo(intstr.FromInt(n)) }
	}
	annotate := func(k string) spec {
		return func(l *licensingv1alpha1.License) { l.Annotations = map[string]string{k: "true"} }
	}
	approve := func(n int, diffs ...drift.FieldDrift) spec {
		return func(l *licensingv1alpha1.License) {
			l.Annotations = map[string]string{licensingv1alpha1.AnnotationAllowAccessReduction: drift.ApprovalToken(id(n), diffs)}
		}
	}
	records := []engine.License{
		rec(0), rec(1), rec(2), rec(3), rec(4), rec(5),
		rec(6, func(r *engine.License) { r.Status = "Uninstalled" }),
		rec(7, func(r *engine.License) {
			r.Unreadable = `status "Frozen" (sfLma__Status__c) is not Trial, Active, Suspended or Uninstalled`
		}),
		rec(8), rec(9), rec(10),
		rec(11), rec(11, func(r *engine.License) { r.ID = "a0N0000000000Z0AAA"; r.Status = "Trial" }),
		rec(12),
		rec(13, func(r *engine.License) { r.NotEditable = `its license type (sfLma__License_Type__c) is "Read-Only"` }),
		rec(14, func(r *engine.License) { r.RecordType = "Suspended" }),
		rec(15), rec(16),
		rec(17, func(r *engine.License) {
			r.OrgStatus = "DELETED"
			r.SubscriberOrgGone = `the subscriber org is gone: its org status (sfLma__Org_Status__c) is "DELETED"`
		}),
		rec(18, func(r *engine.License) {
			r.OrgStatus = "PENDING_DELETE"
			r.SubscriberOrgGone = `the subscriber org is gone: its org status (sfLma__Org_Status__c) is "PENDING_DELETE"`
		}),
	}
	licenses := []*licensingv1alpha1.License{
		license("no-drift", t0, sub(0, seats(50))),
		license("update", t0, sub(1, seats(60))),
		license("observe", t0, sub(2, seats(60), func(l *licensingv1alpha1.License) { l.Spec.ManagementPolicy = licensingv1alpha1.PolicyObserve })),
		license("paused", t0, sub(3, seats(60), annotate(licensingv1alpha1.AnnotationPaused))),
		license("held", t0, sub(4, seats(5))),
		license("approved", t0, sub(5, seats(5), approve(5, drift.FieldDrift{Field: drift.Seats, Desired: "5", Observed: "50"}))),
		license("approved-true", t0, sub(15, seats(5), annotate(licensingv1alpha1.AnnotationAllowAccessReduction))),
		license("approved-other", t0, sub(16, seats(4), approve(16, drift.FieldDrift{Field: drift.Seats, Desired: "5", Observed: "50"}))),
		license("uninstalled", t0, sub(6, seats(60))),
		license("unreadable", t0, sub(7, seats(60))),
		license("active-to-trial", t0, sub(8, func(l *licensingv1alpha1.License) { l.Spec.Status = licensingv1alpha1.LicenseStatusTrial })),
		license("param-missing", t0, sub(9, func(l *licensingv1alpha1.License) {
			l.Spec.FeatureParameters = []licensingv1alpha1.FeatureParameterValue{{Name: "acme__Nope", Integer: ptrTo[int64](1)}}
		})),
		license("param-read-only", t0, sub(12, func(l *licensingv1alpha1.License) {
			l.Spec.FeatureParameters = []licensingv1alpha1.FeatureParameterValue{{Name: "acme__ActiveUsers", Integer: ptrTo[int64](1)}}
		})),
		license("not-editable", t0, sub(13, seats(60))),
		license("record-type-mismatch", t0, sub(14, func(l *licensingv1alpha1.License) { l.Spec.Status = licensingv1alpha1.LicenseStatusActive })),
		license("org-deleted", t0, sub(17, seats(60))),
		license("org-pending-delete-observed", t0, sub(18, seats(50), func(l *licensingv1alpha1.License) { l.Spec.ManagementPolicy = licensingv1alpha1.PolicyObserve })),
		license("dup-owner", t0, sub(10, seats(50))),
		license("dup-copy", t0.Add(time.Hour), func(l *licensingv1alpha1.License) {
			l.Spec.LicenseID = id(10)
			l.Spec.Seats = ptrTo(intstr.FromInt(70))
		}),
		license("ambiguous", t0, sub(11, seats(60))),
		license("awaiting", t0, sub(20, seats(60))),
		license("not-found", t0, func(l *licensingv1alpha1.License) { l.Spec.LicenseID = "a0N000000000999AAA" }),
	}
	want := map[string]verdict{
		"no-drift":                    {lmoctl.ActionUnchanged, ""},
		"update":                      {lmoctl.ActionUpdate, ""},
		"observe":                     {lmoctl.ActionObserve, licensingv1alpha1.ReasonDrifted},
		"paused":                      {lmoctl.ActionPaused, licensingv1alpha1.ReasonPaused},
		"held":                        {lmoctl.ActionHeld, licensingv1alpha1.ReasonAccessReductionHeld},
		"approved":                    {lmoctl.ActionUpdate, ""},
		"approved-true":               {lmoctl.ActionHeld, licensingv1alpha1.ReasonAccessReductionHeld},
		"approved-other":              {lmoctl.ActionHeld, licensingv1alpha1.ReasonAccessReductionHeld},
		"uninstalled":                 {lmoctl.ActionImpossible, licensingv1alpha1.ReasonUninstalled},
		"unreadable":                  {lmoctl.ActionBlocked, licensingv1alpha1.ReasonUnreadableRecord},
		"active-to-trial":             {lmoctl.ActionImpossible, licensingv1alpha1.ReasonImpossibleTransition},
		"param-missing":               {lmoctl.ActionBlocked, licensingv1alpha1.ReasonInvalidSpec},
		"param-read-only":             {lmoctl.ActionBlocked, licensingv1alpha1.ReasonReadOnlyParameter},
		"not-editable":                {lmoctl.ActionBlocked, licensingv1alpha1.ReasonNotEditable},
		"record-type-mismatch":        {lmoctl.ActionUnchanged, licensingv1alpha1.ReasonRecordTypeMismatch},
		"org-deleted":                 {lmoctl.ActionBlocked, licensingv1alpha1.ReasonSubscriberOrgDeleted},
		"org-pending-delete-observed": {lmoctl.ActionBlocked, licensingv1alpha1.ReasonSubscriberOrgDeleted},
		"dup-owner":                   {lmoctl.ActionUnchanged, ""},
		"dup-copy":                    {lmoctl.ActionBlocked, licensingv1alpha1.ReasonDuplicateLicense},
		"ambiguous":                   {lmoctl.ActionBlocked, licensingv1alpha1.ReasonAmbiguousLicense},
		"awaiting":                    {lmoctl.ActionAwaitingInstall, licensingv1alpha1.ReasonAwaitingInstall},
		"not-found":                   {lmoctl.ActionBlocked, licensingv1alpha1.ReasonLicenseNotFound},
	}

	// The plan, over every License at once (it finds the duplicates among them).
	pkgOf := map[string]string{}
	var planned []licensingv1alpha1.License
	for _, l := range licenses {
		pkgOf[l.Namespace+"/"+l.Name] = testPackageID
		planned = append(planned, *l)
	}
	plan := lmoctl.PlanLicenses(planned, pkgOf, newFakeLMO(testPackages(), testParams(), records...), now)
	fromPlan := map[string]verdict{}
	for _, p := range plan.Licenses {
		fromPlan[p.Name] = verdict{p.Action, p.Reason}
	}

	// The controller, one License at a time, with every License in its cache.
	objs := []client.Object{managedPackage()}
	for _, l := range licenses {
		objs = append(objs, l.DeepCopy())
	}
	r := &LicenseReconciler{deps: newTestDeps(newFakeClient(t, objs...), now)}
	fromController := map[string]verdict{}
	for _, l := range licenses {
		eng := newFakeLMO(testPackages(), testParams(), records...)
		l := l.DeepCopy()
		if _, err := r.reconcileWith(context.Background(), l, managedPackage(), eng); err != nil {
			t.Fatal(err)
		}
		fromController[l.Name] = controllerVerdict(l, len(eng.writes()) > 0)
	}

	if diff := cmp.Diff(want, fromPlan); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(fromPlan, fromController); diff != "" {
		t.Errorf("the controller does not do what the plan says (-plan +controller):\n%s", diff)
	}
}

// controllerVerdict reads what the controller did to a License as a plan action and reason: a write
// queued is an update; otherwise the conditions say which.
func controllerVerdict(l *licensingv1alpha1.License, wrote bool) verdict {
	ready, _ := conditionOf(l.Status.Conditions, licensingv1alpha1.ConditionReady)
	stalled, _ := conditionOf(l.Status.Conditions, licensingv1alpha1.ConditionStalled)
	synced, _ := conditionOf(l.Status.Conditions, licensingv1alpha1.ConditionSynced)
	readyTrue := false
	for _, c := range l.Status.Conditions {
		if c.Type == licensingv1alpha1.ConditionReady {
			readyTrue = c.Status == "True"
		}
	}
	switch {
	case wrote:
		return verdict{lmoctl.ActionUpdate, ""}
	case readyTrue && synced == licensingv1alpha1.ReasonRecordTypeMismatch:
		return verdict{lmoctl.ActionUnchanged, synced}
	case readyTrue:
		return verdict{lmoctl.ActionUnchanged, ""}
	case ready == licensingv1alpha1.ReasonAwaitingInstall:
		return verdict{lmoctl.ActionAwaitingInstall, ready}
	case stalled == licensingv1alpha1.ReasonUninstalled, stalled == licensingv1alpha1.ReasonImpossibleTransition:
		return verdict{lmoctl.ActionImpossible, stalled}
	case stalled == licensingv1alpha1.ReasonAccessReductionHeld:
		return verdict{lmoctl.ActionHeld, stalled}
	case stalled != "":
		return verdict{lmoctl.ActionBlocked, stalled}
	case synced == licensingv1alpha1.ReasonPaused:
		return verdict{lmoctl.ActionPaused, ready}
	case synced == licensingv1alpha1.ReasonObserving:
		return verdict{lmoctl.ActionObserve, ready}
	}
	return verdict{"?", ready}
}
