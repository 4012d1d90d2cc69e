package lmoctl

import (
	"sort"

	"github.com/lmo-operator/lmo-operator/internal/engine"
	"github.com/lmo-operator/lmo-operator/internal/salesforce"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/sfid"
)

// recordView is what a command read from the LMO, in the shapes the operator's mirror holds, so that
// plan decides over the same records with the same functions as the operator. It implements
// PlanRecords.
type recordView struct {
	// packages by 15-character 033 id.
	packages map[string]engine.Package
	// params by 15-character 033 id, then full name.
	params map[string]map[string]engine.FeatureParameter
	// licenses by 15-character id.
	licenses map[string]engine.License
	// bySubscriber holds license ids by 15-character package id and subscriber org id, in id order.
	bySubscriber map[[2]string][]string
}

var _ PlanRecords = (*recordView)(nil)

// view turns the records read for plan into the mirror's shapes.
func (r *lmoRecords) view() *recordView {
	v := &recordView{packages: map[string]engine.Package{}, params: map[string]map[string]engine.FeatureParameter{},
		licenses: map[string]engine.License{}, bySubscriber: map[[2]string][]string{}}
	for pid, p := range r.packages {
		v.packages[pid] = engine.Package{RecordID: p.ID, PackageID: p.PackageID, Name: p.Name, LatestVersion: p.LatestVersion}
	}
	for pid, params := range r.params {
		v.params[pid] = map[string]engine.FeatureParameter{}
		for name, fp := range params {
			v.params[pid][name] = engine.FeatureParameter{RecordID: fp.ID, PackageID: r.packages[pid].PackageID,
				FullName: fp.FullName, DataType: fp.DataType, Direction: fp.DataFlowDirection}
		}
	}
	for _, l := range r.licenses { // in Id order
		pid := r.packageOf(l)
		v.licenses[sfid.Key15(l.ID)] = mirrorLicense(l, r.packages[pid].PackageID, r.values[sfid.Key15(l.ID)], r.params[pid])
		key := [2]string{pid, sfid.Key15(l.SubscriberOrgID)}
		v.bySubscriber[key] = append(v.bySubscriber[key], sfid.Key15(l.ID))
	}
	return v
}

// mirrorLicense is a license record as the operator's mirror holds it, with its feature parameter
// values.
func mirrorLicense(l salesforce.License, packageID string, values map[string]string, params map[string]salesforce.FeatureParameter) engine.License {
	out := engine.LicenseFromRecord(l, packageID)
	if len(values) > 0 {
		pvs := make([]engine.ParamValue, 0, len(values))
		for name, value := range values {
			fp := params[name]
			pvs = append(pvs, engine.ParamValue{Name: name, DataType: fp.DataType, Direction: fp.DataFlowDirection, Value: value})
		}
		out.Params = engine.NewParamValues(pvs...)
	}
	return out
}

// Package implements decide.Records.
func (v *recordView) Package(packageID string) (engine.Package, bool) {
	p, ok := v.packages[sfid.Key15(packageID)]
	return p, ok
}

// License implements decide.Records.
func (v *recordView) License(id string) (engine.License, bool) {
	l, ok := v.licenses[sfid.Key15(id)]
	return l, ok
}

// SubscriberLicenses implements decide.Records.
func (v *recordView) SubscriberLicenses(packageID, subscriberOrgID string) []engine.License {
	var out []engine.License
	for _, id := range v.bySubscriber[[2]string{sfid.Key15(packageID), sfid.Key15(subscriberOrgID)}] {
		out = append(out, v.licenses[id])
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// FeatureParameters implements PlanRecords.
func (v *recordView) FeatureParameters(packageID string) map[string]engine.FeatureParameter {
	return v.params[sfid.Key15(packageID)]
}
