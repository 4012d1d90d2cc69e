package engine_test

import (
	"sort"
	"strconv"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/lmo-operator/lmo-operator/internal/drift"
	"github.com/lmo-operator/lmo-operator/internal/engine"
	"github.com/lmo-operator/lmo-operator/internal/licterms"
	"github.com/lmo-operator/lmo-operator/internal/salesforce"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/sfid"
)

// What lmosim holds, as the checker compares it: every license record's managed and reported
// fields as text, in drift's forms (seats "SiteLicense", expiration "Never", parameters
// true/false, an integer, YYYY-MM-DD or "").

// Field names of the checker's books: drift's, and the seats in use.
const (
	simFieldUsed = "usedLicenses"
)

// simParams are the package's feature parameters, as the seed declares them.
var simParams = map[string]engine.FeatureParameter{
	"acme__MaxProjects": {FullName: "acme__MaxProjects", PackageID: simPackageID, DataType: salesforce.DataTypeInteger, Direction: salesforce.DirectionToSubscriber},
	"acme__Beta":        {FullName: "acme__Beta", PackageID: simPackageID, DataType: salesforce.DataTypeBoolean, Direction: salesforce.DirectionToSubscriber},
	"acme__ActiveUsers": {FullName: "acme__ActiveUsers", PackageID: simPackageID, DataType: salesforce.DataTypeInteger, Direction: "Subscriber to LMO"},
}

// simRec is one license record as lmosim holds it.
type simRec struct {
	ID, Subscriber string
	// Fields are the values as text by field name (status, seats, expiration, usedLicenses,
	// featureParameters[name]).
	Fields map[string]string
	// ParamRecords are the value record ids (18 characters) by parameter name.
	ParamRecords map[string]string
}

// simTruth is every license record by 15-character id.
type simTruth map[string]simRec

func (t simTruth) clone() simTruth {
	out := make(simTruth, len(t))
	for id, r := range t {
		c := r
		c.Fields = make(map[string]string, len(r.Fields))
		for k, v := range r.Fields {
			c.Fields[k] = v
		}
		out[id] = c
	}
	return out
}

func (t simTruth) ids() []string {
	out := make([]string, 0, len(t))
	for id := range t {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// paramOf finds the license and parameter of a value record.
func (t simTruth) paramOf(valueID string) (rec, name string) {
	for _, id := range t.ids() {
		for n, vid := range t[id].ParamRecords {
			if sfid.Key15(vid) == sfid.Key15(valueID) {
				return id, n
			}
		}
	}
	return "", ""
}

// readTruth reads every license record from lmosim's admin view (no API call, no fault).
func (w *simWorld) readTruth() simTruth {
	out := simTruth{}
	for _, id := range w.records {
		l, ok := w.srv.GetLicense(id)
		if !ok {
			continue
		}
		r := simRec{ID: l.ID, Subscriber: l.SubscriberOrgID, Fields: map[string]string{}, ParamRecords: l.FeatureParameterRecords}
		r.Fields[drift.FieldStatus] = l.Status
		seats := int64(l.Seats)
		r.Fields[drift.FieldSeats] = drift.SeatsText(&seats)
		r.Fields[drift.FieldExpiration] = engine.Never
		if l.Expiration != nil && *l.Expiration != "" && *l.Expiration != "1970-01-01" {
			r.Fields[drift.FieldExpiration] = *l.Expiration
		}
		r.Fields[simFieldUsed] = strconv.FormatInt(int64(l.UsedLicenses), 10)
		for name, v := range l.FeatureParameters {
			r.Fields[drift.ParamField(name)] = valueText(v)
		}
		out[sfid.Key15(l.ID)] = r
	}
	return out
}

// valueText is a JSON value (lmosim's admin view, or a Collections record) as drift's text.
func valueText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatInt(int64(x), 10)
	case string:
		return x
	}
	return "?"
}

// licenseFieldText is a Collections value of a license field as drift's text.
func licenseFieldText(field string, v any) (string, string) {
	switch field {
	case salesforce.FieldStatus:
		return drift.FieldStatus, valueText(v)
	case salesforce.FieldSeats:
		n, ok := v.(float64)
		if !ok {
			return drift.FieldSeats, "?"
		}
		seats := int64(n)
		return drift.FieldSeats, drift.SeatsText(&seats)
	case salesforce.FieldExpiration:
		if s, _ := v.(string); s != "" && s != salesforce.NeverExpiresDate {
			return drift.FieldExpiration, s
		}
		return drift.FieldExpiration, engine.Never
	}
	return field, valueText(v)
}

// mirrorText is a field of the engine's mirror as drift's text.
func mirrorText(m engine.License, field string) string {
	switch field {
	case drift.FieldStatus:
		return m.Status
	case drift.FieldSeats:
		return drift.SeatsText(m.Seats)
	case drift.FieldExpiration:
		return m.Expiration
	case simFieldUsed:
		if m.UsedLicenses == nil {
			return "<none>"
		}
		return strconv.FormatInt(*m.UsedLicenses, 10)
	}
	if name, ok := paramName(field); ok {
		if v, ok := m.Params.Lookup(name); ok {
			return v.Value
		}
		return "<none>"
	}
	return "?"
}

// attribution is who the License's status would name for a field of the mirror, as the
// controller's drift report does: the field's history row, else the record's last modifier; for a
// parameter, its value record's last modifier.
func attribution(m engine.License, field string) string {
	if name, ok := paramName(field); ok {
		return m.Params.Get(name).LastModifiedBy
	}
	if c, ok := m.Changes.Lookup(simAPIField[field]); ok {
		return c.By
	}
	return m.LastModifiedBy
}

var simAPIField = map[string]string{
	drift.FieldStatus:     salesforce.FieldStatus,
	drift.FieldSeats:      salesforce.FieldSeats,
	drift.FieldExpiration: salesforce.FieldExpiration,
}

func paramName(field string) (string, bool) {
	const prefix, suffix = "featureParameters[", "]"
	if len(field) > len(prefix)+len(suffix) && field[:len(prefix)] == prefix && field[len(field)-1:] == suffix {
		return field[len(prefix) : len(field)-1], true
	}
	return "", false
}

// simTruthRecords is lmosim's truth seen through decide.Records, to ask the decision procedure
// what is left to write once the schedule is over.
type simTruthRecords struct{ t simTruth }

func (r simTruthRecords) Package(packageID string) (engine.Package, bool) {
	return engine.Package{PackageID: simPackageID}, sfid.Key15(packageID) == sfid.Key15(simPackageID)
}

func (r simTruthRecords) License(id string) (engine.License, bool) {
	rec, ok := r.t[sfid.Key15(id)]
	if !ok {
		return engine.License{}, false
	}
	return rec.license(), true
}

func (r simTruthRecords) SubscriberLicenses(_, subscriberOrgID string) []engine.License {
	var out []engine.License
	for _, id := range r.t.ids() {
		if rec := r.t[id]; sfid.Key15(rec.Subscriber) == sfid.Key15(subscriberOrgID) {
			out = append(out, rec.license())
		}
	}
	return out
}

// license is the record as the engine's mirror would show it.
func (r simRec) license() engine.License {
	l := engine.License{ID: r.ID, PackageID: simPackageID, SubscriberOrgID: r.Subscriber, Status: r.Fields[drift.FieldStatus],
		Expiration: r.Fields[drift.FieldExpiration]}
	if s := r.Fields[drift.FieldSeats]; s != "" {
		n := licterms.Seats(intstr.Parse(s)) // the world keeps seats as the License shows them
		l.Seats = &n
	}
	if n, err := strconv.ParseInt(r.Fields[simFieldUsed], 10, 64); err == nil {
		l.UsedLicenses = &n
	}
	for name, p := range simParams {
		l.Params = append(l.Params, engine.ParamValue{Name: name, RecordID: r.ParamRecords[name], DataType: p.DataType, Direction: p.Direction,
			Value: r.Fields[drift.ParamField(name)]})
	}
	l.Params = engine.NewParamValues(l.Params...) // ordered by name, as the mirror holds them
	return l
}
