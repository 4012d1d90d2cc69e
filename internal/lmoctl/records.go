package lmoctl

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/lmo-operator/lmo-operator/internal/salesforce"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/sfid"
)

// packageIDList is a SOQL IN list that matches the packages whether the LMO stores their 033 ids
// with 15 or 18 characters; callers keep only exact 15-character matches.
func packageIDList(ids []string) string {
	seen := map[string]bool{}
	var quoted []string
	for _, id := range ids {
		for _, v := range []string{sfid.Key15(id), sfid.To18(id)} {
			if !seen[v] {
				seen[v] = true
				quoted = append(quoted, salesforce.QuoteString(v))
			}
		}
	}
	sort.Strings(quoted)
	return "(" + strings.Join(quoted, ", ") + ")"
}

// idList is a SOQL IN list of record ids.
func idList(ids []string) string {
	quoted := make([]string, len(ids))
	for i, id := range ids {
		quoted[i] = salesforce.QuoteString(id)
	}
	return "(" + strings.Join(quoted, ", ") + ")"
}

// lmoRecords is what a command read from the LMO for a set of packages.
type lmoRecords struct {
	// packages by 15-character 033 id.
	packages map[string]salesforce.Package
	// params of those packages by 15-character 033 id, then full name.
	params map[string]map[string]salesforce.FeatureParameter
	// licenses of those packages, in Id order.
	licenses []salesforce.License
	// values by 15-character license id, then parameter full name, as text.
	values map[string]map[string]string
}

// packageOf is the 15-character 033 id of a license's package.
func (r *lmoRecords) packageOf(l salesforce.License) string {
	if id := l.PackageID(); id != "" {
		return sfid.Key15(id)
	}
	for pid, p := range r.packages {
		if sfid.Same(p.ID, l.PackageRecordID) {
			return pid
		}
	}
	return ""
}

// loadPackages reads, in one Composite call, the packages with the given 033 ids, their feature
// parameters, and their licenses (licenseWhere, e.g. " AND sfLma__Status__c != 'Uninstalled'",
// narrows them). progress, when set, is told the running license count after each page.
func loadPackages(ctx context.Context, c *salesforce.Client, packageIDs []string, licenseWhere string, progress func(int)) (*lmoRecords, error) {
	return loadPackagesWith(ctx, c, packageIDs, licenseWhere, progress, salesforce.AllLicenseFields)
}

// loadPackagesWith is loadPackages reading the optional License fields fields. The License describe
// rides in the same call; when it shows the org lacks one of them (the license query then fails) or
// has one left out, the call is made again with the fields the org has.
func loadPackagesWith(ctx context.Context, c *salesforce.Client, packageIDs []string, licenseWhere string, progress func(int), fields salesforce.LicenseFieldSet) (*lmoRecords, error) {
	want := map[string]bool{}
	for _, id := range packageIDs {
		want[sfid.Key15(id)] = true
	}
	in := packageIDList(packageIDs)
	r := &lmoRecords{packages: map[string]salesforce.Package{}, params: map[string]map[string]salesforce.FeatureParameter{},
		values: map[string]map[string]string{}}
	var params []salesforce.FeatureParameter
	b := salesforce.NewBatch()
	must(salesforce.AddQuery(b, "SELECT "+salesforce.PackageFields+" FROM "+salesforce.PackageObject+
		" WHERE sfLma__Package_ID__c IN "+in, func(page []salesforce.Package) error {
		for _, p := range page {
			if want[sfid.Key15(p.PackageID)] {
				r.packages[sfid.Key15(p.PackageID)] = p
			}
		}
		return nil
	}))
	must(salesforce.AddQuery(b, "SELECT "+salesforce.FeatureParameterFields+" FROM "+salesforce.FeatureParameterObject+
		" WHERE sfFma__Package__r.sfLma__Package_ID__c IN "+in, func(page []salesforce.FeatureParameter) error {
		params = append(params, page...)
		return nil
	}))
	var describe salesforce.SObjectDescribe
	described := false
	must(salesforce.AddDescribe(b, salesforce.LicenseObject, func(d salesforce.SObjectDescribe, err error) {
		describe, described = d, err == nil
	}))
	must(salesforce.AddQuery(b, "SELECT "+salesforce.LicenseFieldsFor(fields)+" FROM "+salesforce.LicenseObject+
		" WHERE sfLma__Package__r.sfLma__Package_ID__c IN "+in+licenseWhere+" ORDER BY Id", func(page []salesforce.License) error {
		for _, l := range page {
			if want[sfid.Key15(l.PackageID())] {
				r.licenses = append(r.licenses, l)
			}
		}
		if progress != nil {
			progress(len(r.licenses))
		}
		return nil
	}))
	err := c.RunBatch(ctx, b)
	if has := salesforce.LicenseFieldSetOf(describe); described && has != fields {
		return loadPackagesWith(ctx, c, packageIDs, licenseWhere, progress, has)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the LMO's packages and licenses: %w", err)
	}
	byRecord := map[string]string{}
	for pid, p := range r.packages {
		byRecord[sfid.Key15(p.ID)] = pid
	}
	for _, fp := range params {
		pid, ok := byRecord[sfid.Key15(fp.PackageRecordID)]
		if !ok {
			continue
		}
		if r.params[pid] == nil {
			r.params[pid] = map[string]salesforce.FeatureParameter{}
		}
		r.params[pid][fp.FullName] = fp
	}
	return r, nil
}

// loadValues reads, in one Composite call, the value records of the given feature parameters
// (licenseWhere narrows them, e.g. by the license's status) into r.values.
func (r *lmoRecords) loadValues(ctx context.Context, c *salesforce.Client, params []salesforce.FeatureParameter, licenseWhere string) error {
	byType := map[string][]string{}
	names := map[string]string{}
	for _, p := range params {
		byType[p.DataType] = append(byType[p.DataType], p.ID)
		names[sfid.Key15(p.ID)] = p.FullName
	}
	b := salesforce.NewBatch()
	for _, dt := range []string{salesforce.DataTypeBoolean, salesforce.DataTypeInteger, salesforce.DataTypeDate} {
		ids := byType[dt]
		if len(ids) == 0 {
			continue
		}
		sort.Strings(ids)
		dt := dt
		q := "SELECT " + salesforce.FeatureParameterValueFields + " FROM " + salesforce.ValueObjectFor(dt) +
			" WHERE sfFma__FeatureParameter__c IN " + idList(ids) + licenseWhere
		must(salesforce.AddQuery(b, q, func(page []salesforce.FeatureParameterValue) error {
			for _, v := range page {
				name, ok := names[sfid.Key15(v.FeatureParameterID)]
				if !ok {
					continue
				}
				lid := sfid.Key15(v.LicenseID)
				if r.values[lid] == nil {
					r.values[lid] = map[string]string{}
				}
				r.values[lid][name] = valueText(dt, v)
			}
			return nil
		}))
	}
	if err := c.RunBatch(ctx, b); err != nil {
		return fmt.Errorf("reading feature parameter values: %w", err)
	}
	return nil
}

// valueText is a value record's value as drift compares it: true/false, an integer, YYYY-MM-DD,
// or "" when empty (as the operator's mirror reads it).
func valueText(dataType string, v salesforce.FeatureParameterValue) string {
	if v.IsNull() {
		return ""
	}
	switch dataType {
	case salesforce.DataTypeBoolean:
		if b, err := v.Bool(); err == nil {
			return strconv.FormatBool(b)
		}
	case salesforce.DataTypeInteger:
		if n, err := v.Int(); err == nil {
			return strconv.FormatInt(n, 10)
		}
	case salesforce.DataTypeDate:
		if d, err := v.Date(); err == nil {
			return d.String()
		}
	}
	return ""
}

// must panics on a programming error: the batches built here never hold more than five queries.
func must(err error) {
	if err != nil {
		panic(err)
	}
}
