package controllers

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
)

// ManagedPackageReconciler reconciles ManagedPackages: it reports each package's install base and
// checks new installs against the package defaults.
type ManagedPackageReconciler struct {
	client.Client
}

// +kubebuilder:rbac:groups=licensing.lmo-operator.dev,resources=managedpackages,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=licensing.lmo-operator.dev,resources=managedpackages/status,verbs=get;update;patch

// Reconcile brings one ManagedPackage toward its spec.
func (r *ManagedPackageReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var pkg licensingv1alpha1.ManagedPackage
	if err := r.Get(ctx, req.NamespacedName, &pkg); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if pkg.Status.ObservedGeneration == pkg.Generation {
		return ctrl.Result{}, nil
	}
	patch := client.MergeFrom(pkg.DeepCopy())
	pkg.Status.ObservedGeneration = pkg.Generation
	err := r.Status().Patch(ctx, &pkg, patch)
	if apierrors.IsConflict(err) {
		return ctrl.Result{Requeue: true}, nil
	}
	return ctrl.Result{}, client.IgnoreNotFound(err)
}

// SetupWithManager registers the controller with the manager.
func (r *ManagedPackageReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&licensingv1alpha1.ManagedPackage{}).
		Named("managedpackage").
		Complete(r)
}
