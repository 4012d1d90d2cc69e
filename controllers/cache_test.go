package controllers

import (
	"encoding/json"
	"testing"
	"unsafe"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
)

// decodedLicense is a License as the informer gets it: decoded from JSON, every string its own copy.
func decodedLicense(t *testing.T, name string) *licensingv1alpha1.License {
	t.Helper()
	l := &licensingv1alpha1.License{
		TypeMeta: metav1.TypeMeta{APIVersion: "licensing.lmo-operator.dev/v1alpha1", Kind: "License"},
		ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: name, Finalizers: []string{"licensing.lmo-operator.dev/finalizer"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply}}},
		Spec: licensingv1alpha1.LicenseSpec{PackageRef: licensingv1alpha1.LocalObjectReference{Name: testPackage}, SubscriberOrgID: "00D5g000004XyZ1AAA"},
		Status: licensingv1alpha1.LicenseResourceStatus{
			Conditions: []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Synced", Message: "The LMO record matches the spec"}},
			Observed: &licensingv1alpha1.ObservedLicense{Status: "Active", Edition: "Enterprise Edition", PackageVersion: "1.4.0",
				FeatureParameters: []licensingv1alpha1.ObservedFeatureParameter{{Name: "acme__MaxProjects", Direction: "LMO to Subscriber", Value: "20"}}},
		},
	}
	b, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	out := &licensingv1alpha1.License{}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCacheTransformSharesRepeatedStringsAndKeepsValues(t *testing.T) {
	a, b := decodedLicense(t, "acme"), decodedLicense(t, "globex")
	if unsafe.StringData(a.Status.Conditions[0].Message) == unsafe.StringData(b.Status.Conditions[0].Message) {
		t.Fatal("the decoded Licenses share a string already: the test shows nothing")
	}
	want := a.DeepCopy()
	want.ManagedFields = nil
	for _, l := range []*licensingv1alpha1.License{a, b} {
		if _, err := CacheTransform(l); err != nil {
			t.Fatal(err)
		}
	}
	if !equality.Semantic.DeepEqual(want, a) {
		t.Errorf("the transform changed more than managedFields:\nwant %+v\ngot  %+v", want, a)
	}
	same := func(what, x, y string) {
		if unsafe.StringData(x) != unsafe.StringData(y) {
			t.Errorf("%s: the two Licenses hold separate copies of %q", what, x)
		}
	}
	same("namespace", a.Namespace, b.Namespace)
	same("condition message", a.Status.Conditions[0].Message, b.Status.Conditions[0].Message)
	same("condition reason", a.Status.Conditions[0].Reason, b.Status.Conditions[0].Reason)
	same("observed edition", a.Status.Observed.Edition, b.Status.Observed.Edition)
	same("feature parameter", a.Status.Observed.FeatureParameters[0].Name, b.Status.Observed.FeatureParameters[0].Name)
	same("finalizer", a.Finalizers[0], b.Finalizers[0])
	if a.Name == b.Name || unsafe.StringData(a.Name) == unsafe.StringData(b.Name) {
		t.Errorf("names are each License's own")
	}
}
