package testenv

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
)

// CreateAcme creates in namespace ns what a user applies for the Acme LMO at url: the
// client-credentials Secret "lmo-client" (the operator's client id and secret), the
// LicenseManagementOrg "acme", polled every 10 s and changed by mutate before it is created, and the
// ManagedPackage "acme-projects". It returns the LicenseManagementOrg.
func CreateAcme(ctx context.Context, c client.Client, ns, url, secret string, mutate ...func(*licensingv1alpha1.LicenseManagementOrg)) (*licensingv1alpha1.LicenseManagementOrg, error) {
	if err := c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "lmo-client"},
		StringData: map[string]string{"client-id": OperatorClientID, "client-secret": secret}}); err != nil {
		return nil, err
	}
	lmo := &licensingv1alpha1.LicenseManagementOrg{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "acme"},
		Spec: licensingv1alpha1.LicenseManagementOrgSpec{
			InstanceURL:  url,
			Auth:         licensingv1alpha1.LMOAuth{ClientCredentials: &licensingv1alpha1.SecretAuth{SecretRef: licensingv1alpha1.LocalObjectReference{Name: "lmo-client"}}},
			PollInterval: &metav1.Duration{Duration: 10 * time.Second},
		},
	}
	for _, m := range mutate {
		m(lmo)
	}
	if err := c.Create(ctx, lmo); err != nil {
		return nil, err
	}
	return lmo, c.Create(ctx, &licensingv1alpha1.ManagedPackage{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "acme-projects"},
		Spec:       licensingv1alpha1.ManagedPackageSpec{LMORef: licensingv1alpha1.LocalObjectReference{Name: "acme"}, PackageID: PackageID},
	})
}
