// Package v1alpha1 contains the v1alpha1 API of the licensing.lmo-operator.dev group: the
// LicenseManagementOrg, ManagedPackage and License kinds that declare Salesforce LMA licensing.
// +kubebuilder:object:generate=true
// +groupName=licensing.lmo-operator.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of the kinds in this package.
	GroupVersion = schema.GroupVersion{Group: "licensing.lmo-operator.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the kinds of this package with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the kinds of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
