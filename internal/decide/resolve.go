package decide

import (
	"sort"
	"strconv"
	"strings"
	"time"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/drift"
	"github.com/lmo-operator/lmo-operator/internal/engine"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/licstatus"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/sfid"
)

// Records is the read-only view of an LMO's records that resolution needs. engine.LMO is one; lmoctl
// builds another from what it read.
type Records interface {
	// Package returns the package record with the 033 id (compared on 15 characters).
	Package(packageID string) (engine.Package, bool)
	// License returns the record with the id (15 or 18 characters).
	License(id string) (engine.License, bool)
	// SubscriberLicenses returns the records of a package installed in the subscriber org, ordered
	// by id.
	SubscriberLicenses(packageID, subscriberOrgID string) []engine.License
}

var _ Records = engine.LMO(nil)

// Resolution is the record a License names, or why there is none.
type Resolution struct {
	// Record is the record; nil when there is none.
	Record *engine.License
	// Verdict says why there is no record (Action blocked or awaitingInstall); zero when Record is
	// set.
	Verdict Verdict
}

// Resolve finds the record a License names among the records of its package (packageID, the 033 id
// of its ManagedPackage): the record spec.licenseID pins, or the subscriber's record that is not
// Uninstalled (the last Uninstalled one when all are). Several records that are not Uninstalled are
// ambiguous; none at all means the subscriber has not installed yet.
func Resolve(spec licensingv1alpha1.LicenseSpec, packageID string, recs Records) Resolution {
	blocked := func(reason, msg string) Resolution {
		return Resolution{Verdict: Verdict{Action: ActionBlocked, Reason: reason, Message: msg}}
	}
	if _, ok := recs.Package(packageID); !ok {
		return blocked(licensingv1alpha1.ReasonNotAssociated, "Package "+packageID+" is not associated with the LMO")
	}
	if spec.LicenseID != "" {
		rec, ok := recs.License(spec.LicenseID)
		if !ok || !sfid.Same(rec.PackageID, packageID) {
			return blocked(licensingv1alpha1.ReasonLicenseNotFound,
				"No license record "+spec.LicenseID+" of package "+packageID+" exists in the LMO; fix spec.licenseID")
		}
		return Resolution{Record: &rec}
	}
	records := recs.SubscriberLicenses(packageID, spec.SubscriberOrgID)
	var live []engine.License
	for _, rec := range records {
		if rec.Status != licstatus.Uninstalled {
			live = append(live, rec)
		}
	}
	switch {
	case len(live) == 1:
		return Resolution{Record: &live[0]}
	case len(live) > 1:
		ids := make([]string, len(live))
		for i, rec := range live {
			ids[i] = rec.ID
		}
		return blocked(licensingv1alpha1.ReasonAmbiguousLicense, "Subscriber "+spec.SubscriberOrgID+" has "+strconv.Itoa(len(live))+
			" licenses of the package that are not Uninstalled ("+strings.Join(ids, ", ")+"); pin one with spec.licenseID")
	case len(records) > 0:
		// Only Uninstalled records: the customer left.
		return Resolution{Record: &records[len(records)-1]}
	}
	return Resolution{Verdict: Verdict{Action: ActionAwaitingInstall, Reason: licensingv1alpha1.ReasonAwaitingInstall,
		Message: "Subscriber " + spec.SubscriberOrgID + " has not installed package " + packageID + "; the terms are applied when it does",
		Drift:   drift.Diff(DesiredTerms(spec), drift.Terms{})}}
}

// Claim is a License that resolves to a record.
type Claim struct {
	// Name is the License's name (Licenses that share an LMO share a namespace).
	Name string
	// Created is the License's creationTimestamp.
	Created time.Time
}

// Owner returns the name of the License that owns a record among those that claim it: the oldest,
// ties broken by name, so the owner is the same whatever the order of reconciles and across
// restarts. It returns "" when nothing claims the record.
func Owner(claims []Claim) string {
	if len(claims) == 0 {
		return ""
	}
	sorted := append([]Claim(nil), claims...)
	sort.Slice(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if !a.Created.Equal(b.Created) {
			return a.Created.Before(b.Created)
		}
		return a.Name < b.Name
	})
	return sorted[0].Name
}
