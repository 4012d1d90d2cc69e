package controllers

import (
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/drift"
	"github.com/lmo-operator/lmo-operator/internal/engine"
)

// observedStatus is the record as status.observed shows it.
func observedStatus(rec engine.License) *licensingv1alpha1.ObservedLicense {
	o := &licensingv1alpha1.ObservedLicense{
		Status: licensingv1alpha1.LicenseStatus(rec.Status), Expiration: rec.Expiration, UsedLicenses: rec.UsedLicenses,
		InstallDate: rec.InstallDate, Edition: rec.Edition, IsSandbox: rec.IsSandbox, PackageVersion: rec.VersionNumber,
		LastModifiedBy: rec.LastModifiedBy, RecordType: rec.RecordType, NotEditable: rec.NotEditable,
		Customer: rec.Customer,
	}
	if rec.OrgStatus != "" || rec.OrgTrialExpiration != "" {
		o.SubscriberOrg = &licensingv1alpha1.ObservedSubscriberOrg{Status: truncateText(rec.OrgStatus, 64), TrialExpiration: rec.OrgTrialExpiration}
	}
	if rec.Seats != nil {
		s := intstr.FromInt(int(*rec.Seats))
		if *rec.Seats < 0 {
			s = intstr.FromString(licensingv1alpha1.SiteLicense)
		}
		o.Seats = &s
	}
	if !rec.LastModifiedAt.IsZero() {
		t := metav1.NewTime(rec.LastModifiedAt.Truncate(time.Second))
		o.LastModifiedAt = &t
	}
	for _, v := range rec.Params { // ordered by name
		o.FeatureParameters = append(o.FeatureParameters, licensingv1alpha1.ObservedFeatureParameter{Name: v.Name, Direction: v.Direction, Value: v.Value})
	}
	return o
}

// truncateText keeps at most n runes of s.
func truncateText(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

// driftStatus turns drift into status entries, attributed from the record's field history (or,
// without history, from the record's last modification), and a summary for kubectl get.
func driftStatus(diffs []drift.FieldDrift, rec engine.License) ([]licensingv1alpha1.FieldDrift, string) {
	if len(diffs) == 0 {
		return nil, ""
	}
	out := make([]licensingv1alpha1.FieldDrift, len(diffs))
	names := make([]string, len(diffs))
	for i, d := range diffs {
		by, username, at := rec.LastModifiedBy, rec.LastModifiedByUsername, rec.LastModifiedAt
		if change, ok := rec.Changes.ForDrift(d.Field); ok {
			by, username, at = change.By, change.Username, change.At
		} else if name, ok := d.Field.Parameter(); ok {
			if v, ok := rec.Params.Lookup(name); ok {
				by, username, at = v.LastModifiedBy, v.LastModifiedByUsername, v.LastModifiedAt
			}
		}
		out[i] = licensingv1alpha1.FieldDrift{Field: d.Field.String(), Desired: d.Desired, Observed: d.Observed, ChangedBy: by, ChangedByUsername: username}
		if !at.IsZero() {
			t := metav1.NewTime(at.Truncate(time.Second))
			out[i].ChangedAt = &t
		}
		names[i] = d.Field.String()
	}
	return out, strings.Join(names, ",")
}

// correctionStatus is status.lastCorrection for the fields a write put back at writtenAt.
func correctionStatus(fixed []engine.FieldWrite, writtenAt time.Time) *licensingv1alpha1.Correction {
	c := &licensingv1alpha1.Correction{CorrectedAt: metav1.NewTime(writtenAt.Truncate(time.Second))}
	for _, f := range fixed {
		cf := licensingv1alpha1.CorrectedField{Field: f.Field, Replaced: f.Old, Restored: f.New,
			ChangedBy: f.Replaces.By, ChangedByUsername: f.Replaces.Username}
		if !f.Replaces.At.IsZero() {
			t := metav1.NewTime(f.Replaces.At.Truncate(time.Second))
			cf.ChangedAt = &t
		}
		c.Fields = append(c.Fields, cf)
	}
	return c
}
