package controllers

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
)

// LicenseManagementOrgReconciler reconciles LicenseManagementOrgs: it authenticates to each LMO and
// runs the LMO's engine.
type LicenseManagementOrgReconciler struct {
	client.Client
}

// +kubebuilder:rbac:groups=licensing.lmo-operator.dev,resources=licensemanagementorgs,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=licensing.lmo-operator.dev,resources=licensemanagementorgs/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings one LicenseManagementOrg toward its spec.
func (r *LicenseManagementOrgReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var lmo licensingv1alpha1.LicenseManagementOrg
	if err := r.Get(ctx, req.NamespacedName, &lmo); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if lmo.Status.ObservedGeneration == lmo.Generation {
		return ctrl.Result{}, nil
	}
	patch := client.MergeFrom(lmo.DeepCopy())
	lmo.Status.ObservedGeneration = lmo.Generation
	err := r.Status().Patch(ctx, &lmo, patch)
	if apierrors.IsConflict(err) {
		return ctrl.Result{Requeue: true}, nil
	}
	return ctrl.Result{}, client.IgnoreNotFound(err)
}

// SetupWithManager registers the controller with the manager.
func (r *LicenseManagementOrgReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&licensingv1alpha1.LicenseManagementOrg{}).
		Named("licensemanagementorg").
		Complete(r)
}
