// Package controllers holds the reconcilers of the LicenseManagementOrg, ManagedPackage and License
// kinds.
package controllers

import (
	ctrl "sigs.k8s.io/controller-runtime"
)

// SetupWithManager registers every controller of the operator with the manager.
func SetupWithManager(mgr ctrl.Manager) error {
	if err := (&LicenseManagementOrgReconciler{Client: mgr.GetClient()}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&ManagedPackageReconciler{Client: mgr.GetClient()}).SetupWithManager(mgr); err != nil {
		return err
	}
	return (&LicenseReconciler{Client: mgr.GetClient()}).SetupWithManager(mgr)
}
