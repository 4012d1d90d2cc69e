package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// The three kinds expose their status conditions and observed generation the same way, so that
// the controllers set them through one set of functions (controllers/conditions.go).

// GetConditions returns the status conditions.
func (in *License) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the status conditions.
func (in *License) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// SetObservedGeneration records the generation the status describes.
func (in *License) SetObservedGeneration(g int64) { in.Status.ObservedGeneration = g }

// GetConditions returns the status conditions.
func (in *ManagedPackage) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the status conditions.
func (in *ManagedPackage) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// SetObservedGeneration records the generation the status describes.
func (in *ManagedPackage) SetObservedGeneration(g int64) { in.Status.ObservedGeneration = g }

// GetConditions returns the status conditions.
func (in *LicenseManagementOrg) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the status conditions.
func (in *LicenseManagementOrg) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// SetObservedGeneration records the generation the status describes.
func (in *LicenseManagementOrg) SetObservedGeneration(g int64) { in.Status.ObservedGeneration = g }
