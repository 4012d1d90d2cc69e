package controllers

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/engine"
)

// The drift gauge counts the namespace's Licenses whose Drifted condition is True, through the
// drifted index rather than a list of the fleet.
func TestDriftGaugeCountsTheDriftedLicensesOfTheNamespace(t *testing.T) {
	lic := func(ns, name string, drifted metav1.ConditionStatus) client.Object {
		l := &licensingv1alpha1.License{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: licensingv1alpha1.LicenseSpec{PackageRef: licensingv1alpha1.LocalObjectReference{Name: testPackage}, SubscriberOrgID: "00D5g000004XyZ1AAA"}}
		if drifted != "" {
			l.Status.Conditions = []metav1.Condition{{Type: licensingv1alpha1.ConditionDrifted, Status: drifted, Reason: "x", Message: "x"}}
		}
		return l
	}
	const ns = "drift-gauge"
	c := newFakeClient(t, lic(ns, "a", metav1.ConditionTrue), lic(ns, "b", metav1.ConditionTrue), lic(ns, "c", metav1.ConditionFalse),
		lic(ns, "d", ""), lic("elsewhere", "e", metav1.ConditionTrue))
	r := &LicenseManagementOrgReconciler{deps: newTestDeps(c, metav1.Now().Time)}
	lmo := &licensingv1alpha1.LicenseManagementOrg{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: testLMO}}
	r.recordMetrics(context.Background(), ns+"/"+testLMO, lmo, newFakeLMO(testPackages(), testParams()), engine.Status{})

	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := -1.0
	for _, f := range families {
		if f.GetName() != "lmo_licenses_drifted" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == ns {
					got = m.GetGauge().GetValue()
				}
			}
		}
	}
	if got != 2 {
		t.Errorf("lmo_licenses_drifted{namespace=%q} = %v, want 2", ns, got)
	}
}
