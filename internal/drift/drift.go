// Package drift compares a License's desired terms with the LMO record and decides what may be
// written. Everything here is a pure function of its arguments: no clock, no I/O, deterministic order.
package drift

import (
	"sort"
	"strconv"
)

// Never is the expiration text of a license that does not expire.
const Never = "Never"

// SiteLicense is the seats text of a site license (-1 in the LMO).
const SiteLicense = "SiteLicense"

// SiteLicenseSeats is the seats number the LMO stores for a site license.
const SiteLicenseSeats int64 = -1

// The names of the term fields as the License spec, status.drift and the engine's writes show them
// (Field.String).
const (
	FieldStatus     = "status"
	FieldSeats      = "seats"
	FieldExpiration = "expiration"
)

// ParamField is the name of a feature parameter's field as status.drift and the engine's writes show
// it: featureParameters[NAME]. It is ParamOf(name).String(); nothing parses it back.
func ParamField(name string) string { return "featureParameters[" + name + "]" }

// Field is a License spec field that drift compares: one of the terms (Status, Seats, Expiration) or
// a feature parameter (ParamOf). Fields are comparable; String is the name users see.
type Field struct {
	kind fieldKind
	// param is the feature parameter's full name (kind paramField).
	param string
}

type fieldKind int

const (
	statusField fieldKind = iota + 1
	seatsField
	expirationField
	paramField
)

// The term fields.
var (
	Status     = Field{kind: statusField}
	Seats      = Field{kind: seatsField}
	Expiration = Field{kind: expirationField}
)

// ParamOf is the field of the feature parameter with this full name.
func ParamOf(name string) Field { return Field{kind: paramField, param: name} }

// Equal reports whether f and other are the same field (as ==; go-cmp compares Fields by it).
func (f Field) Equal(other Field) bool { return f == other }

// Parameter is the full name of a feature parameter's field; false for a term.
func (f Field) Parameter() (string, bool) { return f.param, f.kind == paramField }

// String is the field's name in status.drift and messages: status, seats, expiration or
// featureParameters[NAME]; "" for the zero Field.
func (f Field) String() string {
	switch f.kind {
	case statusField:
		return FieldStatus
	case seatsField:
		return FieldSeats
	case expirationField:
		return FieldExpiration
	case paramField:
		return ParamField(f.param)
	}
	return ""
}

// Terms are license terms, from either side. On the desired side a nil or empty field is unmanaged;
// on the observed side every field is the record's value.
type Terms struct {
	// Status is Trial, Active, Suspended or Uninstalled; "" is unmanaged.
	Status string
	// Seats is the number of seats, SiteLicenseSeats for a site license; nil is unmanaged (or empty
	// in the LMO).
	Seats *int64
	// Expiration is YYYY-MM-DD or Never; "" is unmanaged.
	Expiration string
	// Params are feature parameter values as text (true/false, an integer, YYYY-MM-DD, or "" when
	// unset), by full name.
	Params map[string]string
}

// FieldDrift is one managed field whose observed value differs from the desired one. Code tells
// fields apart by Field; status.drift, messages and approval tokens show Field.String().
type FieldDrift struct {
	Field    Field
	Desired  string
	Observed string
}

// Drifted is the FieldDrift of one field.
func Drifted(field Field, desired, observed string) FieldDrift {
	return FieldDrift{Field: field, Desired: desired, Observed: observed}
}

// SeatsText formats seats as the License resource shows them.
func SeatsText(seats *int64) string {
	switch {
	case seats == nil:
		return ""
	case *seats < 0:
		return SiteLicense
	default:
		return strconv.FormatInt(*seats, 10)
	}
}

// Diff lists the managed fields of desired whose value differs from observed: status, seats,
// expiration, then feature parameters by name.
func Diff(desired, observed Terms) []FieldDrift {
	var out []FieldDrift
	if desired.Status != "" && desired.Status != observed.Status {
		out = append(out, Drifted(Status, desired.Status, observed.Status))
	}
	if desired.Seats != nil && SeatsText(desired.Seats) != SeatsText(observed.Seats) {
		out = append(out, Drifted(Seats, SeatsText(desired.Seats), SeatsText(observed.Seats)))
	}
	if desired.Expiration != "" && desired.Expiration != observed.Expiration {
		out = append(out, Drifted(Expiration, desired.Expiration, observed.Expiration))
	}
	names := make([]string, 0, len(desired.Params))
	for name := range desired.Params {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		want := desired.Params[name]
		if got := observed.Params[name]; got != want {
			out = append(out, Drifted(ParamOf(name), want, got))
		}
	}
	return out
}
