// Package v1alpha1 contains the v1alpha1 API of the licensing.lmo-operator.dev group: the
// LicenseManagementOrg, ManagedPackage and License kinds that declare Salesforce LMA licensing.
// +kubebuilder:object:generate=true
// +groupName=licensing.lmo-operator.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of the kinds in this package.
	GroupVersion = schema.GroupVersion{Group: "licensing.lmo-operator.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the kinds of this package with a runtime.Scheme.
	// apimachinery's builder rather than controller-runtime's (deprecated), so that the API package
	// depends on apimachinery alone.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the kinds of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// addKnownTypes registers the kinds of this package, and the meta/v1 options types of its group
// version, with s.
func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&LicenseManagementOrg{}, &LicenseManagementOrgList{},
		&ManagedPackage{}, &ManagedPackageList{},
		&License{}, &LicenseList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
