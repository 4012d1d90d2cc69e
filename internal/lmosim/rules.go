package lmosim

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// recError is why one record's write was refused, as a Salesforce error.
type recError struct {
	code   string
	msg    string
	fields []string
	// parse marks a value of the wrong JSON type: the whole request fails with JSON_PARSER_ERROR
	// on a row PATCH, the record fails with INVALID_TYPE_ON_FIELD_IN_RECORD in a Collections call.
	parse bool
}

func refuse(code, msg string, fields ...string) *recError {
	if fields == nil {
		fields = []string{}
	}
	return &recError{code: code, msg: msg, fields: fields}
}

// change is one field of a record moving from old to new.
type change struct {
	f        *fieldDef
	old, new val
}

// planUpdate checks a write of body's fields to record r of object obj, against the LMA's rules,
// and returns the fields that actually change.
func planUpdate(st *store, obj *objectDef, r record, body map[string]json.RawMessage, today string) ([]change, *recError) {
	keys := make([]string, 0, len(body))
	for k := range body {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	values := map[string]val{} // by canonical field name
	var order []*fieldDef
	for _, k := range keys {
		if k == "attributes" {
			continue
		}
		if strings.EqualFold(k, "Id") {
			var id string
			if json.Unmarshal(body[k], &id) != nil || to18(id) != r.recID() {
				return nil, refuse("MALFORMED_ID", "Id in the record body does not match the record being updated", "Id")
			}
			continue
		}
		f := obj.field(k)
		if f == nil {
			return nil, refuse("INVALID_FIELD", fmt.Sprintf("No such column '%s' on sobject of type %s", k, obj.name), k)
		}
		if !f.updateable || st.readOnly[f.name] {
			return nil, refuse("INVALID_FIELD_FOR_INSERT_UPDATE", fmt.Sprintf(
				"Unable to create/update fields: %s. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", f.name), f.name)
		}
		v, err := decodeValue(f, body[k])
		if err != nil {
			return nil, err
		}
		values[f.name] = v
		order = append(order, f)
	}
	switch x := r.(type) {
	case *licenseRec:
		if err := checkLicense(x, values, today, st.strict); err != nil {
			return nil, err
		}
		if licenseTypeLocked(x.LicenseType) && len(values) > 0 {
			// The LMA does not let a license provisioned through AppExchange Checkout be modified
			// (ISVforce Guide, "Modify a License Record"); Checkout keeps it in step with the
			// subscription. No validation rule is exported for it, so an API write may well be
			// answered as a success and then undone: lmosim takes that silent worst case (nothing
			// changes, nothing says so), and refuses it with strictLicenseRules.
			if st.strict {
				return nil, refuse("FIELD_CUSTOM_VALIDATION_EXCEPTION", fmt.Sprintf(
					"This license's type is %s: it is managed outside the License Management App and can't be edited.", x.LicenseType))
			}
			return nil, nil
		}
	case *valueRec:
		if err := checkValue(st, x); err != nil {
			return nil, err
		}
	}
	var out []change
	for _, f := range order {
		old := f.get(st, r)
		if nv := values[f.name]; !old.equal(nv) {
			out = append(out, change{f: f, old: old, new: nv})
		}
	}
	return out, nil
}

// decodeValue reads a JSON value for a field of the given type.
func decodeValue(f *fieldDef, raw json.RawMessage) (val, *recError) {
	typeErr := func(want string) *recError {
		return &recError{code: "INVALID_TYPE_ON_FIELD_IN_RECORD", parse: true, fields: []string{f.name},
			msg: fmt.Sprintf("%s: value not of required type: %s (expected %s)", f.name, strings.TrimSpace(string(raw)), want)}
	}
	var x any
	if err := json.Unmarshal(raw, &x); err != nil {
		return null, typeErr(f.typ)
	}
	switch f.typ {
	case "picklist":
		if x == nil {
			return null, nil
		}
		s, ok := x.(string)
		if !ok {
			return null, typeErr("string")
		}
		return optStr(s), nil
	case "double":
		if x == nil {
			return null, nil
		}
		n, ok := x.(float64)
		if !ok {
			return null, typeErr("number")
		}
		if n != math.Trunc(n) {
			return null, &recError{code: "INVALID_TYPE_ON_FIELD_IN_RECORD", fields: []string{f.name},
				msg: fmt.Sprintf("%s: value not of required type: %v (expected a whole number)", f.name, n)}
		}
		return num(n), nil
	case "boolean":
		if x == nil {
			return boolean(false), nil
		}
		b, ok := x.(bool)
		if !ok {
			return null, typeErr("boolean")
		}
		return boolean(b), nil
	case "date":
		if x == nil {
			return null, nil
		}
		s, ok := x.(string)
		if !ok {
			return null, typeErr("date")
		}
		if s == "" {
			return null, nil
		}
		d, ok := parseDate(s)
		if !ok {
			return null, typeErr("date YYYY-MM-DD")
		}
		return date(d), nil
	}
	return null, typeErr(f.typ)
}

// checkLicense applies the LMA rules of a license edit to the fields being written. The seat range
// is the field's own definition and always holds; the Modify License page's rules hold only when
// strict (Seed.StrictLicenseRules).
func checkLicense(l *licenseRec, values map[string]val, today string, strict bool) *recError {
	if v, ok := values[fSeats]; ok {
		if v.K != kNumber || (v.N != -1 && (v.N < 1 || v.N > maxSeats)) {
			return refuse("NUMBER_OUTSIDE_VALID_RANGE", fmt.Sprintf("Seats: value outside of valid range on numeric field: %s", v.text()), fSeats)
		}
	}
	if v, ok := values[fStatus]; ok && v.K != kString && v.K != kNull {
		return refuse("JSON_PARSER_ERROR", fmt.Sprintf("Cannot deserialize instance of string from %s", v.text()), fStatus)
	}
	if !strict {
		return nil
	}
	if l.Status == "Uninstalled" {
		return refuse("FIELD_CUSTOM_VALIDATION_EXCEPTION", "This license belongs to an uninstalled package and can't be edited.")
	}
	status := l.Status
	if v, ok := values[fStatus]; ok {
		if v.K != kString || (v.S != "Trial" && v.S != "Active" && v.S != "Suspended") {
			return refuse("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", fmt.Sprintf("Status: bad value for restricted picklist field: %s", v.text()), fStatus)
		}
		status = v.S
		if status == "Trial" && l.Status != "Trial" && (l.Status == "Active" || l.WasActive) {
			return refuse("FIELD_CUSTOM_VALIDATION_EXCEPTION", "A license that has been Active can't go back to Trial.", fStatus)
		}
	}
	exp := l.Expiration
	_, expWritten := values[fExpiration]
	if expWritten {
		exp = values[fExpiration].S
	}
	_, statusWritten := values[fStatus]
	if status == "Trial" && (statusWritten || expWritten) && (neverExpires(exp) || exp > addDays(today, 90)) {
		return refuse("FIELD_CUSTOM_VALIDATION_EXCEPTION", "A trial can't last more than 90 days: set an expiration date at most 90 days from today.", fExpiration)
	}
	return nil
}

// checkValue applies the FMA rules of a feature parameter value edit.
func checkValue(st *store, v *valueRec) *recError {
	if l := st.license(v.LicenseID); st.strict && l != nil && l.Status == "Uninstalled" {
		return refuse("FIELD_CUSTOM_VALIDATION_EXCEPTION", "This license belongs to an uninstalled package and can't be edited.")
	}
	if p := st.param(v.ParamID); p != nil && p.Direction == "Subscriber to LMO" {
		return refuse("INSUFFICIENT_ACCESS_OR_READONLY", fmt.Sprintf(
			"insufficient access rights on object id: %s is reported by the subscriber org and is read-only in the LMO", p.FullName))
	}
	return nil
}

// applyChanges writes planned changes as user, committed at now by a transaction that began lag
// earlier: history rows for license fields, and LastModifiedBy, LastModifiedDate and
// SystemModstamp, all with the whole-second stamp of when the transaction began (see
// store.lateStamp). No changes, no move.
func applyChanges(st *store, r record, changes []change, userID string, now time.Time, lag time.Duration) {
	if len(changes) == 0 {
		return
	}
	at := st.lateStamp(r, now, lag)
	for _, c := range changes {
		switch x := r.(type) {
		case *licenseRec:
			switch c.f.name {
			case fStatus:
				x.Status = c.new.S
				if x.Status == "Active" {
					x.WasActive = true
				}
				if !st.keepRecordType && x.RecordType != "" {
					// Modify License keeps the record type (the status the page shows) with the
					// status; Seed.APIWritesKeepRecordType is the case where an API write does not.
					x.RecordType = recordTypeForStatus(x.Status)
				}
			case fSeats:
				x.Seats = c.new.N
			case fExpiration:
				x.Expiration = c.new.S
			}
			st.addHistory(x.ID, c.f.name, c.old, c.new, userID, at)
		case *valueRec:
			x.set(c.new)
		}
	}
	a := r.aud()
	a.Modified, a.ModifiedBy, a.Modstamp = at, userID, at
}

// touch moves a record's modification fields without a REST write (admin changes).
func touch(st *store, r record, userID string, now time.Time) int64 {
	at := st.stamp(now)
	a := r.aud()
	a.Modified, a.ModifiedBy, a.Modstamp = at, userID, at
	return at
}

// savedRecord is a copy of a record taken before a write, to roll back an allOrNone batch.
type savedRecord struct {
	r    record
	lic  licenseRec
	val  valueRec
	hist int
}

func saveRecord(st *store, r record) savedRecord {
	s := savedRecord{r: r, hist: len(st.history)}
	switch x := r.(type) {
	case *licenseRec:
		s.lic = *x
	case *valueRec:
		s.val = *x
	}
	return s
}

func (s savedRecord) restore(st *store) {
	switch x := s.r.(type) {
	case *licenseRec:
		*x = s.lic
	case *valueRec:
		*x = s.val
	}
	if len(st.history) > s.hist {
		for i := s.hist; i < len(st.history); i++ {
			st.history[i] = nil
		}
		st.history = st.history[:s.hist]
	}
}
