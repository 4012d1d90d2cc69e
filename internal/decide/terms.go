package decide

import (
	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/drift"
	"github.com/lmo-operator/lmo-operator/internal/engine"
	"github.com/lmo-operator/lmo-operator/internal/licterms"
)

// DesiredTerms maps a License spec to drift terms: fields left out stay unmanaged.
func DesiredTerms(spec licensingv1alpha1.LicenseSpec) drift.Terms { return licterms.Desired(spec) }

// ObservedTerms maps an LMO record to drift terms.
func ObservedTerms(rec engine.License) drift.Terms {
	t := drift.Terms{Status: rec.Status, Seats: rec.Seats, Expiration: rec.Expiration, Params: map[string]string{}}
	for _, v := range rec.Params {
		t.Params[v.Name] = v.Value
	}
	return t
}

// ParamDefs describes a package's feature parameters as drift.Params checks them.
func ParamDefs(params map[string]engine.FeatureParameter) map[string]drift.Param {
	out := make(map[string]drift.Param, len(params))
	for name, p := range params {
		out[name] = drift.Param{DataType: p.DataType, Writable: p.Writable()}
	}
	return out
}

func paramKinds(spec licensingv1alpha1.LicenseSpec) map[string]string {
	return licterms.ParamKinds(spec)
}

func hasManagedFields(t drift.Terms) bool { return licterms.HasManagedFields(t) }
