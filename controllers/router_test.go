package controllers

import (
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
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
