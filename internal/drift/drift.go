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

// Field names used in FieldDrift and Write, as the License spec names them.
const (
	FieldStatus     = "status"
	FieldSeats      = "seats"
	FieldExpiration = "expiration"
)

// ParamField is the drift field name of a feature parameter.
func ParamField(name string) string { return "featureParameters[" + name + "]" }

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

// FieldDrift is one managed field whose observed value differs from the desired one.
type FieldDrift struct {
	Field    string
	Desired  string
	Observed string
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
		out = append(out, FieldDrift{FieldStatus, desired.Status, observed.Status})
	}
	if desired.Seats != nil && SeatsText(desired.Seats) != SeatsText(observed.Seats) {
		out = append(out, FieldDrift{FieldSeats, SeatsText(desired.Seats), SeatsText(observed.Seats)})
	}
	if desired.Expiration != "" && desired.Expiration != observed.Expiration {
		out = append(out, FieldDrift{FieldExpiration, desired.Expiration, observed.Expiration})
	}
	names := make([]string, 0, len(desired.Params))
	for name := range desired.Params {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		want := desired.Params[name]
		if got := observed.Params[name]; got != want {
			out = append(out, FieldDrift{ParamField(name), want, got})
		}
	}
	return out
}
