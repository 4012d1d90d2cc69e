package controllers

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
)

// Cache indexes that map an LMO record back to the resources that refer to it.
const (
	// indexLicenseRecord indexes Licenses by "sub:<15-char subscriber org id>" and
	// "id:<15-char license id>" (pinned in spec or resolved in status).
	indexLicenseRecord = "licensing.lmo-operator.dev/record"
	// indexPackageLMO indexes ManagedPackages by the LicenseManagementOrg they name.
	indexPackageLMO = "licensing.lmo-operator.dev/lmo"
	// indexLicensePackage indexes Licenses by the ManagedPackage they name.
	indexLicensePackage = "licensing.lmo-operator.dev/package"
)

func id15(id string) string {
	if len(id) > 15 {
		return id[:15]
	}
	return id
}

func subscriberKey(org string) string { return "sub:" + id15(org) }
func licenseKey(id string) string     { return "id:" + id15(id) }

func indexFields(ctx context.Context, mgr ctrl.Manager) error {
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &licensingv1alpha1.License{}, indexLicenseRecord, func(o client.Object) []string {
		l := o.(*licensingv1alpha1.License)
		var keys []string
		if l.Spec.SubscriberOrgID != "" {
			keys = append(keys, subscriberKey(l.Spec.SubscriberOrgID))
		}
		if l.Spec.LicenseID != "" {
			keys = append(keys, licenseKey(l.Spec.LicenseID))
		}
		if l.Status.LicenseID != "" && id15(l.Status.LicenseID) != id15(l.Spec.LicenseID) {
			keys = append(keys, licenseKey(l.Status.LicenseID))
		}
		return keys
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &licensingv1alpha1.License{}, indexLicensePackage, func(o client.Object) []string {
		return []string{o.(*licensingv1alpha1.License).Spec.PackageRef.Name}
	}); err != nil {
		return err
	}
	return idx.IndexField(ctx, &licensingv1alpha1.ManagedPackage{}, indexPackageLMO, func(o client.Object) []string {
		return []string{o.(*licensingv1alpha1.ManagedPackage).Spec.LMORef.Name}
	})
}

func secretName(lmo *licensingv1alpha1.LicenseManagementOrg) string {
	switch {
	case lmo.Spec.Auth.JWTBearer != nil:
		return lmo.Spec.Auth.JWTBearer.SecretRef.Name
	case lmo.Spec.Auth.ClientCredentials != nil:
		return lmo.Spec.Auth.ClientCredentials.SecretRef.Name
	}
	return ""
}
