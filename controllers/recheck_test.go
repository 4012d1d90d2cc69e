package controllers

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/drift"
	"github.com/lmo-operator/lmo-operator/internal/engine"
)

// Bug 7: a write queued for a License is re-decided when the writer flushes, from what the License
// (or, without one, the package defaults) says then.
func TestRecheckDecidesFromTheCurrentSpec(t *testing.T) {
	const subscriber, recordID = "00D5g000004XyZ1AAA", "a0N000000000001AAA"
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	rec := func(mutate ...func(*engine.License)) engine.License {
		r := engine.License{ID: recordID, Name: "L-00001", PackageID: testPackageID, SubscriberOrgID: subscriber, Status: "Active",
			Seats: ptrTo[int64](50), UsedLicenses: ptrTo[int64](12), Expiration: "2027-06-30", InstallDate: "2026-11-20"}
		for _, m := range mutate {
			m(&r)
		}
		return r
	}
	globex := func(mutate ...func(*licensingv1alpha1.License)) *licensingv1alpha1.License {
		return license("globex", t0, func(l *licensingv1alpha1.License) {
			l.Spec.SubscriberOrgID = subscriber
			l.Spec.Seats = ptrTo(intstr.FromInt(60))
			for _, m := range mutate {
				m(l)
			}
		})
	}
	annotate := func(k string) func(*licensingv1alpha1.License) {
		return func(l *licensingv1alpha1.License) {
			if l.Annotations == nil {
				l.Annotations = map[string]string{}
			}
			l.Annotations[k] = "true"
		}
	}
	approve := func(diffs ...drift.FieldDrift) func(*licensingv1alpha1.License) {
		return func(l *licensingv1alpha1.License) {
			l.Annotations = map[string]string{licensingv1alpha1.AnnotationAllowAccessReduction: drift.ApprovalToken(recordID, diffs)}
		}
	}
	suspended := "Suspended"
	for name, tc := range map[string]struct {
		objs   []client.Object
		rec    engine.License
		want   engine.Write
		wantOK bool
	}{
		"the License still asks for the change": {
			objs: []client.Object{managedPackage(), globex()}, rec: rec(),
			want: engine.Write{LicenseID: recordID, Seats: ptrTo[int64](60)}, wantOK: true,
		},
		"the License was paused": {
			objs: []client.Object{managedPackage(), globex(annotate(licensingv1alpha1.AnnotationPaused))}, rec: rec(),
		},
		"the License was switched to Observe": {
			objs: []client.Object{managedPackage(), globex(func(l *licensingv1alpha1.License) { l.Spec.ManagementPolicy = licensingv1alpha1.PolicyObserve })},
			rec:  rec(),
		},
		"the License was reverted to the LMO's value": {
			objs: []client.Object{managedPackage(), globex(func(l *licensingv1alpha1.License) { l.Spec.Seats = ptrTo(intstr.FromInt(50)) })},
			rec:  rec(),
		},
		"the License was deleted (Orphan)": {
			objs: []client.Object{managedPackage()}, rec: rec(),
		},
		"the change became an access reduction": {
			objs: []client.Object{managedPackage(), globex()}, rec: rec(func(r *engine.License) { r.UsedLicenses = ptrTo[int64](70) }),
		},
		"the record is unreadable": {
			objs: []client.Object{managedPackage(), globex()}, rec: rec(func(r *engine.License) { r.Unreadable = `status "Frozen"` }),
		},
		"another, older License owns the record and matches it": {
			objs: []client.Object{managedPackage(), globex(), license("globex-imported", t0.Add(-time.Hour), func(l *licensingv1alpha1.License) {
				l.Spec.LicenseID = recordID
				l.Spec.Seats = ptrTo(intstr.FromInt(50))
			})},
			rec: rec(),
		},
		"a License being deleted with Suspend, approved": {
			objs: []client.Object{managedPackage(), globex(approve(drift.FieldDrift{Field: drift.Status, Desired: "Suspended", Observed: "Active"}), func(l *licensingv1alpha1.License) {
				l.Spec.DeletionPolicy = licensingv1alpha1.DeletionPolicySuspend
				l.Finalizers = []string{licensingv1alpha1.FinalizerLicense}
				now := metav1.NewTime(t0.Add(time.Hour))
				l.DeletionTimestamp = &now
			})},
			rec:  rec(),
			want: engine.Write{LicenseID: recordID, Status: &suspended}, wantOK: true,
		},
		"a License being deleted with Suspend, not approved": {
			objs: []client.Object{managedPackage(), globex(func(l *licensingv1alpha1.License) {
				l.Spec.DeletionPolicy = licensingv1alpha1.DeletionPolicySuspend
				l.Finalizers = []string{licensingv1alpha1.FinalizerLicense}
				now := metav1.NewTime(t0.Add(time.Hour))
				l.DeletionTimestamp = &now
			})},
			rec: rec(),
		},
		"no License: an untouched install under enforced defaults": {
			objs: []client.Object{managedPackage(enforceTrial30)},
			rec:  install(recordID, subscriber, "2026-11-20", 5, "2026-12-20"),
			want: engine.Write{LicenseID: recordID, Seats: ptrTo[int64](10)}, wantOK: true,
		},
		"no License: an install a person changed since": {
			objs: []client.Object{managedPackage(enforceTrial30)},
			rec: func() engine.License {
				r := install(recordID, subscriber, "2026-11-20", 5, "2026-12-20")
				r.TermsChanged = true
				return r
			}(),
		},
		"no License: defaults only observed": {
			objs: []client.Object{managedPackage(enforceTrial30, func(p *licensingv1alpha1.ManagedPackage) { p.Spec.DefaultsPolicy = licensingv1alpha1.PolicyObserve })},
			rec:  install(recordID, subscriber, "2026-11-20", 5, "2026-12-20"),
		},
		"an ambiguous License names the subscriber: defaults keep off": {
			objs: []client.Object{managedPackage(enforceTrial30), globex()},
			rec:  install(recordID, subscriber, "2026-11-20", 5, "2026-12-20"),
		},
	} {
		t.Run(name, func(t *testing.T) {
			d := newTestDeps(newFakeClient(t, tc.objs...), defaultsNow)
			records := []engine.License{tc.rec}
			if name == "an ambiguous License names the subscriber: defaults keep off" {
				records = append(records, install("a0N000000000002AAA", subscriber, "2026-11-21", 10, "2026-12-21"))
			}
			eng := newFakeLMO(testPackages(), testParams(), records...)
			w, ok := d.recheck(context.Background(), types.NamespacedName{Namespace: testNS, Name: testLMO}, eng, recordID)
			if ok != tc.wantOK {
				t.Fatalf("recheck ok = %v (%+v), want %v", ok, w, tc.wantOK)
			}
			if diff := cmp.Diff(tc.want, w); diff != "" {
				t.Errorf("write (-want +got):\n%s", diff)
			}
		})
	}
}
