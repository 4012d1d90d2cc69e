package controllers

import (
	"context"
	"hash/fnv"
	"slices"
	"sort"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/decide"
	"github.com/lmo-operator/lmo-operator/internal/engine"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/sfid"
)

// Cache indexes that map an LMO record back to the resources that refer to it.
const (
	// indexLicenseRecord indexes Licenses by the buckets (recordBucket) of their record keys:
	// "sub:<15-char subscriber org id>" and "id:<15-char license id>" (pinned in spec or resolved in
	// status). Look it up with licensesWithKey, which keeps the Licenses that have the key itself.
	indexLicenseRecord = "licensing.lmo-operator.dev/record"
	// indexPackageLMO indexes ManagedPackages by the LicenseManagementOrg they name.
	indexPackageLMO = "licensing.lmo-operator.dev/lmo"
	// indexLicenseDrifted indexes the Licenses whose Drifted condition is True, under "true": the
	// drift gauge counts them without listing the whole fleet.
	indexLicenseDrifted = "licensing.lmo-operator.dev/drifted"
)

func subscriberKey(org string) string { return "sub:" + sfid.Key15(org) }
func licenseKey(id string) string     { return "id:" + sfid.Key15(id) }

func indexFields(ctx context.Context, mgr ctrl.Manager) error {
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &licensingv1alpha1.License{}, indexLicenseRecord, licenseRecordBuckets); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &licensingv1alpha1.License{}, indexLicenseDrifted, licenseDriftedKeys); err != nil {
		return err
	}
	return idx.IndexField(ctx, &licensingv1alpha1.ManagedPackage{}, indexPackageLMO, packageLMOKeys)
}

// licenseRecordKeys are a License's indexLicenseRecord keys.
func licenseRecordKeys(o client.Object) []string {
	l := o.(*licensingv1alpha1.License)
	var keys []string
	if l.Spec.SubscriberOrgID != "" {
		keys = append(keys, subscriberKey(l.Spec.SubscriberOrgID))
	}
	if l.Spec.LicenseID != "" {
		keys = append(keys, licenseKey(l.Spec.LicenseID))
	}
	if l.Status.LicenseID != "" && !sfid.Same(l.Status.LicenseID, l.Spec.LicenseID) {
		keys = append(keys, licenseKey(l.Status.LicenseID))
	}
	return keys
}

// recordBuckets is how many buckets the record keys of Licenses share in indexLicenseRecord. The
// informer's indexer keeps a set (a Go map) for each value it indexes, and each value twice (in the
// namespace and across namespaces): a value per record key made four one-element maps per License,
// about 1 KiB each, more than the rest of the index. In buckets, a value holds the Licenses of many
// keys; a lookup lists one bucket (a handful of Licenses at 50,000) and keeps those with the key.
const recordBuckets = 1 << 13

// recordBucket is the indexLicenseRecord value of a record key.
func recordBucket(key string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key)) // a hash.Hash never fails to write
	return strconv.FormatUint(uint64(h.Sum32()%recordBuckets), 36)
}

// licenseRecordBuckets are a License's indexLicenseRecord values: the buckets of its record keys.
func licenseRecordBuckets(o client.Object) []string {
	var out []string
	for _, k := range licenseRecordKeys(o) {
		if b := recordBucket(k); !slices.Contains(out, b) {
			out = append(out, b)
		}
	}
	return out
}

// licensesWithKey lists the Licenses in namespace that have the record key (licenseRecordKeys).
// With unsafe the Licenses are the cache's own objects, to be read and never changed.
func licensesWithKey(ctx context.Context, c client.Reader, namespace, key string, unsafe bool) ([]licensingv1alpha1.License, error) {
	opts := []client.ListOption{client.InNamespace(namespace), client.MatchingFields{indexLicenseRecord: recordBucket(key)}}
	if unsafe {
		opts = append(opts, client.UnsafeDisableDeepCopy)
	}
	var list licensingv1alpha1.LicenseList
	if err := c.List(ctx, &list, opts...); err != nil {
		return nil, err
	}
	out := list.Items[:0]
	for i := range list.Items {
		if slices.Contains(licenseRecordKeys(&list.Items[i]), key) {
			out = append(out, list.Items[i])
		}
	}
	return out, nil
}

// licenseDriftedKeys are a License's indexLicenseDrifted keys: "true" while it has drifted.
func licenseDriftedKeys(o client.Object) []string {
	if meta.IsStatusConditionTrue(o.(*licensingv1alpha1.License).Status.Conditions, licensingv1alpha1.ConditionDrifted) {
		return []string{"true"}
	}
	return nil
}

// packageLMOKeys are a ManagedPackage's indexPackageLMO keys.
func packageLMOKeys(o client.Object) []string {
	return []string{o.(*licensingv1alpha1.ManagedPackage).Spec.LMORef.Name}
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

// claimant is a License that resolves to a record, with its ManagedPackage.
type claimant struct {
	license *licensingv1alpha1.License
	pkg     *licensingv1alpha1.ManagedPackage
}

// claimants returns the Licenses of the LMO lmo (in its namespace, through a ManagedPackage that
// names it) that resolve to rec, as the cache shows them, leaving out the License named except.
// decide.Owner picks the owner among them.
func (d *deps) claimants(ctx context.Context, lmo types.NamespacedName, eng engine.LMO, rec engine.License, except string) ([]claimant, error) {
	named, err := d.licensesNaming(ctx, lmo.Namespace, rec)
	if err != nil {
		return nil, err
	}
	var out []claimant
	for i := range named {
		l := &named[i]
		if l.Name == except {
			continue
		}
		pkg, err := d.packageOf(ctx, l)
		if err != nil {
			return nil, err
		}
		if pkg == nil || pkg.Spec.LMORef.Name != lmo.Name {
			continue
		}
		if res := decide.Resolve(l.Spec, pkg.Spec.PackageID, eng); res.Record != nil && sfid.Same(res.Record.ID, rec.ID) {
			out = append(out, claimant{license: l, pkg: pkg})
		}
	}
	return out, nil
}

// licenseNamingRecord returns the name of a License in namespace that names rec, an install of
// packageID, by spec.licenseID, by the id it resolved to, or by subscriber (unless its
// ManagedPackage is of another package); "" when none does. Package defaults never write such a
// record, whether or not the License resolves to it.
func (d *deps) licenseNamingRecord(ctx context.Context, namespace, packageID string, rec engine.License) (string, error) {
	named, err := d.licensesNaming(ctx, namespace, rec)
	if err != nil {
		return "", err
	}
	for i := range named {
		l := &named[i]
		if (l.Spec.LicenseID != "" && sfid.Same(l.Spec.LicenseID, rec.ID)) || (l.Status.LicenseID != "" && sfid.Same(l.Status.LicenseID, rec.ID)) {
			return l.Name, nil
		}
		if l.Spec.SubscriberOrgID == "" || !sfid.Same(l.Spec.SubscriberOrgID, rec.SubscriberOrgID) {
			continue
		}
		pkg, err := d.packageOf(ctx, l)
		if err != nil {
			return "", err
		}
		if pkg == nil || sfid.Same(pkg.Spec.PackageID, packageID) {
			return l.Name, nil // a License whose package is unknown may be of this one
		}
	}
	return "", nil
}

// licensesNaming lists the Licenses in namespace whose spec or status names rec or its subscriber,
// sorted by name.
func (d *deps) licensesNaming(ctx context.Context, namespace string, rec engine.License) ([]licensingv1alpha1.License, error) {
	keys := []string{licenseKey(rec.ID)}
	if rec.SubscriberOrgID != "" {
		keys = append(keys, subscriberKey(rec.SubscriberOrgID))
	}
	seen := map[string]bool{}
	var out []licensingv1alpha1.License
	for _, key := range keys {
		items, err := licensesWithKey(ctx, d, namespace, key, false)
		if err != nil {
			return nil, err
		}
		for _, l := range items {
			if !seen[l.Name] {
				seen[l.Name] = true
				out = append(out, l)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// packageOf returns a License's ManagedPackage, or nil when it does not exist.
func (d *deps) packageOf(ctx context.Context, l *licensingv1alpha1.License) (*licensingv1alpha1.ManagedPackage, error) {
	var pkg licensingv1alpha1.ManagedPackage
	if err := d.Get(ctx, types.NamespacedName{Namespace: l.Namespace, Name: l.Spec.PackageRef.Name}, &pkg); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return &pkg, nil
}
