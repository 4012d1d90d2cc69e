package controllers

import (
	"context"
	"sort"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/decide"
	"github.com/lmo-operator/lmo-operator/internal/engine"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/sfid"
)

// recheck returns what may be written now to the LMO record licenseID of the LMO lmo, decided from
// the current spec of the License that owns it (or, when no License owns it, the package defaults
// under Enforce) with the same decide functions the controllers use; ok=false means write nothing.
//
// The engine's writer calls it at flush time for every queued license record, so a write queued
// for a License that has since been paused, switched to Observe, reverted to the LMO's value,
// deleted, held, or found to be a duplicate is not sent. It reads the informer cache and the
// mirror only; when either cannot tell, nothing is written.
func (d *deps) recheck(ctx context.Context, lmo types.NamespacedName, eng engine.LMO, licenseID string) (w engine.Write, ok bool) {
	rec, found := eng.License(licenseID)
	if !found {
		return engine.Write{}, false
	}
	claims, err := d.claimants(ctx, lmo, eng, rec, "")
	if err != nil {
		return engine.Write{}, false
	}
	if len(claims) > 0 {
		byName := make(map[string]claimant, len(claims))
		owners := make([]decide.Claim, 0, len(claims))
		for _, c := range claims {
			byName[c.license.Name] = c
			owners = append(owners, decide.Claim{Name: c.license.Name, Created: c.license.CreationTimestamp.Time})
		}
		owner := byName[decide.Owner(owners)]
		return written(decide.License(d.licenseInput(owner.license, owner.pkg, eng, rec, "")))
	}
	pkg, err := d.enforcingPackage(ctx, lmo, rec.PackageID)
	if err != nil || pkg == nil {
		return engine.Write{}, false
	}
	return written(d.decideDefaults(ctx, pkg, eng, rec))
}

func written(v decide.Verdict) (engine.Write, bool) {
	if v.Action != decide.ActionUpdate || v.Write == nil {
		return engine.Write{}, false
	}
	return *v.Write, true
}

// enforcingPackage returns the ManagedPackage of the LMO lmo for packageID whose defaults are
// enforced, or nil. When several ManagedPackages declare the package, the first by name decides.
func (d *deps) enforcingPackage(ctx context.Context, lmo types.NamespacedName, packageID string) (*licensingv1alpha1.ManagedPackage, error) {
	var list licensingv1alpha1.ManagedPackageList
	if err := d.List(ctx, &list, client.InNamespace(lmo.Namespace), client.MatchingFields{indexPackageLMO: lmo.Name}); err != nil {
		return nil, err
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	for i := range list.Items {
		p := &list.Items[i]
		if !sfid.Same(p.Spec.PackageID, packageID) {
			continue
		}
		if p.Spec.Defaults == nil || p.Spec.DefaultsPolicy != licensingv1alpha1.PolicyEnforce {
			return nil, nil
		}
		return p, nil
	}
	return nil, nil
}
