package controllers

import (
	"unique"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
)

// CacheTransform prepares an object for the manager's informer cache: it drops managedFields, which
// the operator never reads, and makes the strings a fleet of Licenses repeats (condition types,
// reasons and messages, the namespace, the package, the observed record's status, edition and
// version, feature parameter names) share one copy each. The apiserver's JSON decodes every string
// of every object afresh; at 50,000 Licenses the repeats are a large part of the cache.
func CacheTransform(obj any) (any, error) {
	obj, err := stripManagedFields(obj)
	if err != nil {
		return nil, err
	}
	if l, ok := obj.(*licensingv1alpha1.License); ok {
		internLicense(l)
	}
	return obj, nil
}

var stripManagedFields = cache.TransformStripManagedFields()

func intern(s *string) {
	if *s != "" {
		*s = unique.Make(*s).Value()
	}
}

func internLicense(l *licensingv1alpha1.License) {
	intern(&l.Namespace)
	intern(&l.APIVersion)
	intern(&l.Kind)
	for i := range l.Finalizers {
		intern(&l.Finalizers[i])
	}
	intern(&l.Spec.PackageRef.Name)
	for i := range l.Spec.FeatureParameters {
		intern(&l.Spec.FeatureParameters[i].Name)
	}
	st := &l.Status
	intern(&st.DriftSummary)
	for i := range st.Conditions {
		c := &st.Conditions[i]
		intern(&c.Type)
		s := string(c.Status)
		intern(&s)
		c.Status = metav1.ConditionStatus(s)
		intern(&c.Reason)
		intern(&c.Message)
	}
	if o := st.Observed; o != nil {
		s := string(o.Status)
		intern(&s)
		o.Status = licensingv1alpha1.LicenseStatus(s)
		for _, p := range []*string{&o.RecordType, &o.NotEditable, &o.Edition, &o.PackageVersion, &o.LastModifiedBy, &o.InstallDate, &o.Expiration} {
			intern(p)
		}
		if so := o.SubscriberOrg; so != nil {
			intern(&so.Status)
			intern(&so.TrialExpiration)
		}
		for i := range o.FeatureParameters {
			fp := &o.FeatureParameters[i]
			intern(&fp.Name)
			intern(&fp.Direction)
			intern(&fp.Value)
		}
	}
	for i := range st.Drift {
		d := &st.Drift[i]
		intern(&d.Field)
		intern(&d.ChangedBy)
		intern(&d.ChangedByUsername)
	}
}
