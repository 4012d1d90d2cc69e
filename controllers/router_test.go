package controllers

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/engine"
)

// When an LMO's mirror is (re)loaded, every package of that LMO and every License of those packages
// is reconciled again, and nothing of another LMO or namespace.
func TestEverythingEnqueuesTheLMOsPackagesAndTheirLicenses(t *testing.T) {
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	other := managedPackage(func(p *licensingv1alpha1.ManagedPackage) {
		p.Name, p.Spec.LMORef.Name = "other-app", "other-lmo"
	})
	elsewhere := managedPackage(func(p *licensingv1alpha1.ManagedPackage) { p.Namespace = "elsewhere" })
	lic := func(ns, name, pkg string) *licensingv1alpha1.License {
		return license(name, created, func(l *licensingv1alpha1.License) {
			l.Namespace, l.Spec.PackageRef.Name, l.Spec.SubscriberOrgID = ns, pkg, "00D5g000004XyZ1AAA"
		})
	}
	c := newFakeClient(t, managedPackage(), other, elsewhere,
		lic(testNS, "globex", testPackage), lic(testNS, "initech", testPackage),
		lic(testNS, "hooli", "other-app"), lic("elsewhere", "umbrella", testPackage))
	r := newRouter(c, record.NewFakeRecorder(10))
	queues := map[string]workqueue.TypedRateLimitingInterface[reconcile.Request]{}
	for _, name := range []string{queueLicense, queuePackage} {
		q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
		defer q.ShutDown()
		queues[name] = q
		r.queues[name] = q
	}
	r.everything(types.NamespacedName{Namespace: testNS, Name: testLMO})
	drainQueue := func(q workqueue.TypedRateLimitingInterface[reconcile.Request]) []string {
		var names []string
		for q.Len() > 0 {
			req, _ := q.Get()
			names = append(names, req.Namespace+"/"+req.Name)
			q.Done(req)
		}
		slices.Sort(names)
		return names
	}
	if got, want := drainQueue(queues[queuePackage]), []string{testNS + "/" + testPackage}; !slices.Equal(got, want) {
		t.Errorf("packages enqueued %v, want %v", got, want)
	}
	if got, want := drainQueue(queues[queueLicense]), []string{testNS + "/globex", testNS + "/initech"}; !slices.Equal(got, want) {
		t.Errorf("Licenses enqueued %v, want %v", got, want)
	}
}

// A write answer that plainly writes more than massWrite Licenses gives one LicenseWritten Event on
// the LicenseManagementOrg instead of one on each License; refusals and corrections keep theirs, and
// every written License is reconciled again. A smaller answer gives an Event on each License.
func TestAMassWriteGivesOneEventOnTheLMO(t *testing.T) {
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	synced := metav1.NewTime(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	for _, tc := range []struct {
		name                  string
		plain                 int
		wantOnLicenses, onLMO int
	}{
		{"an answer of massWrite Licenses", massWrite, massWrite + 2, 0},
		{"an answer of more than massWrite Licenses", massWrite + 1, 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := tc.plain + 2 // and one refusal, one correction
			objs := []client.Object{&licensingv1alpha1.LicenseManagementOrg{ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: testLMO}}}
			var records []engine.License
			var results []engine.WriteResult
			for i := range n {
				org := fmt.Sprintf("00D5g%010dAAA", i)
				id := fmt.Sprintf("a0N%012dAAA", i)
				objs = append(objs, license(fmt.Sprintf("lic-%03d", i), created, func(l *licensingv1alpha1.License) {
					l.Spec.SubscriberOrgID = org
					l.Status.LastSyncTime = &synced
				}))
				records = append(records, engine.License{ID: id, PackageID: testPackageID, SubscriberOrgID: org})
				res := engine.WriteResult{LicenseID: id, Changes: []engine.FieldWrite{{Field: "seats", Old: "10", New: "20"}}}
				switch i {
				case n - 2:
					res.Err = &engine.WriteError{Code: "FIELD_INTEGRITY_EXCEPTION", Message: "refused"}
				case n - 1:
					res.Changes[0].Replaces = engine.FieldChange{By: "Dana Admin", At: synced.Add(time.Hour)}
				}
				results = append(results, res)
			}
			rec := record.NewFakeRecorder(2 * n)
			r := newRouter(newFakeClient(t, objs...), rec)
			q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
			defer q.ShutDown()
			r.queues[queueLicense] = q
			r.written(types.NamespacedName{Namespace: testNS, Name: testLMO}, newFakeLMO(testPackages(), testParams(), records...), results)
			var onLicenses, onLMO, failed, corrected int
			for _, ev := range drain(rec) {
				switch {
				case strings.Contains(ev, "in one call"):
					onLMO++
				case strings.Contains(ev, licensingv1alpha1.ReasonWriteFailed):
					failed++
					onLicenses++
				case strings.Contains(ev, licensingv1alpha1.ReasonDriftCorrected):
					corrected++
					onLicenses++
				default:
					onLicenses++
				}
			}
			if onLicenses != tc.wantOnLicenses || onLMO != tc.onLMO || failed != 1 || corrected != 1 {
				t.Errorf("Events: %d on Licenses (%d refusals, %d corrections), %d on the LMO; want %d on Licenses (1, 1), %d on the LMO",
					onLicenses, failed, corrected, onLMO, tc.wantOnLicenses, tc.onLMO)
			}
			if q.Len() != n {
				t.Errorf("%d Licenses reconciled again, want %d", q.Len(), n)
			}
		})
	}
}
