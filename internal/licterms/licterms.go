// Package licterms maps a License spec to the drift terms the controller and lmoctl compare with an
// LMO record, so that `lmoctl plan` and the operator agree on what a spec manages.
package licterms

import (
	"strconv"

	"k8s.io/apimachinery/pkg/util/intstr"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/drift"
	"github.com/lmo-operator/lmo-operator/internal/engine"
)

// Desired maps a License spec to drift terms: fields left out stay unmanaged.
func Desired(spec licensingv1alpha1.LicenseSpec) drift.Terms {
	t := drift.Terms{Status: string(spec.Status), Expiration: spec.Expiration}
	if spec.Seats != nil {
		n := Seats(*spec.Seats)
		t.Seats = &n
	}
	if len(spec.FeatureParameters) > 0 {
		t.Params = map[string]string{}
		for _, p := range spec.FeatureParameters {
			t.Params[p.Name] = ParamText(p)
		}
	}
	return t
}

// Seats is the LMO's number for the seats of a spec or of a package's defaults: the integer, or
// drift.SiteLicenseSeats for "SiteLicense" (the only text admission lets through).
func Seats(v intstr.IntOrString) int64 {
	if v.Type == intstr.Int {
		return int64(v.IntValue())
	}
	return drift.SiteLicenseSeats
}

// ParamText is a spec feature parameter's value as drift compares it: true/false, an integer or
// YYYY-MM-DD ("" when no value is set).
func ParamText(p licensingv1alpha1.FeatureParameterValue) string {
	switch {
	case p.Boolean != nil:
		return strconv.FormatBool(*p.Boolean)
	case p.Integer != nil:
		return strconv.FormatInt(*p.Integer, 10)
	case p.Date != nil:
		return *p.Date
	}
	return ""
}

// ParamKinds gives the data type (Boolean, Integer, Date) of each spec feature parameter's value.
func ParamKinds(spec licensingv1alpha1.LicenseSpec) map[string]string {
	out := map[string]string{}
	for _, p := range spec.FeatureParameters {
		switch {
		case p.Boolean != nil:
			out[p.Name] = engine.DataTypeBoolean
		case p.Integer != nil:
			out[p.Name] = engine.DataTypeInteger
		case p.Date != nil:
			out[p.Name] = engine.DataTypeDate
		}
	}
	return out
}

// HasManagedFields reports whether the terms manage any field.
func HasManagedFields(t drift.Terms) bool {
	return t.Status != "" || t.Seats != nil || t.Expiration != "" || len(t.Params) > 0
}
