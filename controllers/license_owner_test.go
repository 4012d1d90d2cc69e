package controllers

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/drift"
	"github.com/lmo-operator/lmo-operator/internal/engine"
)

// Bug 9: two Licenses that resolve to the same LMO record with different terms wrote alternately
// forever. The oldest License owns the record; any other is Stalled, names the owner, and writes
// nothing, whichever is reconciled first.
func TestTwoLicensesForOneRecordOnlyTheOldestWrites(t *testing.T) {
	const subscriber, recordID = "00D5g000004XyZ1AAA", "a0N000000000001AAA"
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	bySubscriber := func(seats int) func(*licensingv1alpha1.License) {
		return func(l *licensingv1alpha1.License) {
			l.Spec.SubscriberOrgID = subscriber
			l.Spec.Seats = ptrTo(intstr.FromInt(seats))
		}
	}
	byID := func(id string, seats int) func(*licensingv1alpha1.License) {
		return func(l *licensingv1alpha1.License) {
			l.Spec.LicenseID = id
			l.Spec.Seats = ptrTo(intstr.FromInt(seats))
		}
	}
	for name, tc := range map[string]struct {
		older, newer *licensingv1alpha1.License
	}{
		"an imported License and a hand-written copy, both by subscriber": {
			older: license("globex-imported", t0, bySubscriber(50)),
			newer: license("globex", t0.Add(time.Hour), bySubscriber(60)),
		},
		"a License by subscriber and one pinning the 15-character id": {
			older: license("globex", t0, bySubscriber(50)),
			newer: license("globex-pinned", t0.Add(time.Hour), byID(recordID[:15], 60)),
		},
		"created in the same second: the first name owns": {
			older: license("a-globex", t0, bySubscriber(50)),
			newer: license("b-globex", t0, byID(recordID, 60)),
		},
	} {
		for _, order := range []string{"older first", "newer first"} {
			t.Run(name+", "+order, func(t *testing.T) {
				older, newer := tc.older.DeepCopy(), tc.newer.DeepCopy()
				c := newFakeClient(t, managedPackage(), older, newer)
				r := &LicenseReconciler{deps: newTestDeps(c, now)}
				seats := int64(40)
				eng := newFakeLMO(testPackages(), testParams(), engine.License{ID: recordID, PackageID: testPackageID,
					SubscriberOrgID: subscriber, Status: "Active", Seats: &seats, Expiration: "2027-06-30"})
				pkg := managedPackage()
				sequence := []*licensingv1alpha1.License{older, newer}
				if order == "newer first" {
					sequence = []*licensingv1alpha1.License{newer, older}
				}
				for range 2 { // a second round: alternating writes would show here
					for _, l := range sequence {
						if _, err := r.reconcileWith(context.Background(), l, pkg, eng); err != nil {
							t.Fatal(err)
						}
					}
				}
				for _, w := range eng.writes() {
					if w.Seats == nil || *w.Seats != 50 {
						t.Errorf("a write other than the owner's 50 seats was queued: seats %s", drift.SeatsText(w.Seats))
					}
				}
				if len(eng.writes()) == 0 {
					t.Errorf("the owner %s wrote nothing", older.Name)
				}
				reason, msg := conditionOf(newer.Status.Conditions, licensingv1alpha1.ConditionStalled)
				if reason != licensingv1alpha1.ReasonDuplicateLicense || !strings.Contains(msg, older.Name) {
					t.Errorf("%s: Stalled %q %q, want %s naming %s", newer.Name, reason, msg, licensingv1alpha1.ReasonDuplicateLicense, older.Name)
				}
				if reason, _ := conditionOf(older.Status.Conditions, licensingv1alpha1.ConditionReady); reason != licensingv1alpha1.ReasonWriteQueued {
					t.Errorf("%s: Ready reason %q, want %s", older.Name, reason, licensingv1alpha1.ReasonWriteQueued)
				}
			})
		}
	}
}
