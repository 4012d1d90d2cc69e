package drift

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lmo-operator/lmo-operator/internal/salesforce/licstatus"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/sfid"
)

// Decision is the verdict of a policy: an empty Reason means the change may proceed. Reasons are the
// condition reasons of the License API; Message is a sentence a user can act on.
type Decision struct {
	Reason  string
	Message string
}

// Allowed reports whether the decision lets the change proceed.
func (d Decision) Allowed() bool { return d.Reason == "" }

// Reasons a policy returns (the License condition reasons of the same name).
const (
	ReasonUninstalled          = "Uninstalled"
	ReasonImpossibleTransition = "ImpossibleTransition"
	ReasonAccessReductionHeld  = "AccessReductionHeld"
	ReasonInvalidSpec          = "InvalidSpec"
	ReasonReadOnlyParameter    = "ReadOnlyParameter"
)

// MaxTrialDays is the longest trial the LMA allows.
const MaxTrialDays = 90

// Terminal refuses every write to a record that will never accept one: an Uninstalled license.
func Terminal(observed Terms) Decision {
	if observed.Status == licstatus.Uninstalled {
		return Decision{ReasonUninstalled, "The customer uninstalled the package; the license record is never written again. Delete this License or pin another record with licenseID"}
	}
	return Decision{}
}

// Transition refuses the changes Salesforce never makes: any license that is not a Trial now back to
// Trial (the LMA forbids it for one that was ever Active, and a record does not say whether it was), and a
// Trial that would last longer than 90 days from today. Like the LMA, it checks the trial length only
// when the status or expiration is managed (may be written): a seats or parameter change to a Trial
// record is not refused for the record's own expiration.
func Transition(desired, observed Terms, today time.Time) Decision {
	if desired.Status == licstatus.Trial && observed.Status == licstatus.Active {
		return Decision{ReasonImpossibleTransition, "The LMO record is Active and an Active license can never go back to Trial; set spec.status to Active or Suspended"}
	}
	// The LMA says a license that converted to Active never returns to Trial. The record carries no
	// history of that, and the API may not refuse it, so only a Trial stays a Trial.
	if desired.Status == licstatus.Trial && observed.Status != "" && observed.Status != licstatus.Trial {
		return Decision{ReasonImpossibleTransition, "The LMO record is " + observed.Status + ", and only a license that is a Trial now may be set to Trial (one that was ever Active can never go back); set spec.status to Active or Suspended"}
	}
	status := desired.Status
	if status == "" {
		status = observed.Status
	}
	if status == licstatus.Trial && (desired.Status != "" || desired.Expiration != "") {
		exp := desired.Expiration
		if exp == "" {
			exp = observed.Expiration
		}
		limit := today.AddDate(0, 0, MaxTrialDays).Format(time.DateOnly)
		if exp == Never || (exp != "" && exp > limit) {
			return Decision{ReasonImpossibleTransition, fmt.Sprintf("A trial lasts at most %d days; spec.expiration must be on or before %s, or set spec.status to Active", MaxTrialDays, limit)}
		}
	}
	return Decision{}
}

// AccessReductions lists, as sentences, the changes from observed to desired that cut the customer's
// access now: an Active or Trial license suspended, an expiration moved to a date already past, fewer
// seats than the customer uses (or fewer seats at all when the use is unknown), a Boolean feature
// parameter turned off, an Integer one lowered, a Date one moved earlier. today is the current date in UTC, YYYY-MM-DD.
func AccessReductions(desired, observed Terms, usedLicenses *int64, today string) []string {
	var out []string
	if desired.Status == licstatus.Suspended && (observed.Status == licstatus.Active || observed.Status == licstatus.Trial) {
		out = append(out, fmt.Sprintf("status %s to Suspended", observed.Status))
	}
	if desired.Expiration != "" && desired.Expiration != Never && desired.Expiration != observed.Expiration &&
		desired.Expiration < today {
		out = append(out, fmt.Sprintf("expiration %s is already past", desired.Expiration))
	}
	if desired.Seats != nil && *desired.Seats >= 0 && usedLicenses != nil && *desired.Seats < *usedLicenses &&
		SeatsText(desired.Seats) != SeatsText(observed.Seats) {
		out = append(out, fmt.Sprintf("seats %d below the %d in use", *desired.Seats, *usedLicenses))
	}
	// Without the used licenses nobody can tell whether fewer seats cut anyone off: held too.
	if desired.Seats != nil && *desired.Seats >= 0 && usedLicenses == nil && observed.Seats != nil &&
		(*observed.Seats < 0 || *desired.Seats < *observed.Seats) {
		out = append(out, fmt.Sprintf("seats %s to %d while the seats in use are unknown", SeatsText(observed.Seats), *desired.Seats))
	}
	names := make([]string, 0, len(desired.Params))
	for name := range desired.Params {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if old, ok := observed.Params[name]; ok && paramReduced(old, desired.Params[name]) {
			out = append(out, fmt.Sprintf("%s %s to %s", ParamField(name), old, desired.Params[name]))
		}
	}
	return out
}

// paramReduced reports whether a feature parameter value moving from old to next takes something
// away: a Boolean turned off, an Integer lowered, a Date moved earlier. Values are compared in the
// form they have (true/false, an integer, YYYY-MM-DD); an empty old value grants nothing to take.
func paramReduced(old, next string) bool {
	if old == "" || old == next {
		return false
	}
	switch {
	case old == "true" && next == "false":
		return true
	case old == "false" || old == "true":
		return false
	}
	if a, err := strconv.ParseInt(old, 10, 64); err == nil {
		b, err := strconv.ParseInt(next, 10, 64)
		return err == nil && b < a
	}
	if ValidDate(old) && ValidDate(next) {
		return next < old
	}
	return false
}

// HoldAccessReduction returns AccessReductionHeld unless approval (the value of the approval
// annotation) is token, the name of this very change (see ApprovalToken). An approval names one
// change: left on, it does not approve the next one, and "true" approves nothing.
func HoldAccessReduction(reductions []string, approval, token, annotation string) Decision {
	if len(reductions) == 0 || approval == token {
		return Decision{}
	}
	cut := fmt.Sprintf("The change would cut the customer's access now (%s); ", strings.Join(reductions, "; "))
	if approval == "" {
		return Decision{ReasonAccessReductionHeld, fmt.Sprintf("%sto apply this change, add the annotation %s: %q", cut, annotation, token)}
	}
	return Decision{ReasonAccessReductionHeld, fmt.Sprintf("%sthe annotation %s approves another change (%s); to apply this one, set it to %q",
		cut, annotation, truncateValue(approval), token)}
}

// ApprovalToken names one change to one license record: the record and each field's value before
// and after. It is the value of the approval annotation that approves this change and no other: a
// different record, field or value, before or after, gives another name. Ten hex digits of a
// SHA-256; the order of diffs does not matter and a record id may be given in either length.
func ApprovalToken(recordID string, diffs []FieldDrift) string {
	recordID = sfid.Key15(recordID)
	sorted := append([]FieldDrift(nil), diffs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Field.String() < sorted[j].Field.String() })
	h := sha256.New()
	h.Write([]byte(recordID))
	for _, d := range sorted {
		// Each part is length-prefixed so that values cannot run into one another.
		for _, part := range []string{d.Field.String(), d.Observed, d.Desired} {
			fmt.Fprintf(h, "|%d:%s", len(part), part)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:10]
}

// truncateValue shortens an annotation value quoted back in a message.
func truncateValue(v string) string {
	if len(v) > 64 {
		return v[:64] + "…"
	}
	return v
}

// Param describes a feature parameter of the package as the LMO defines it.
type Param struct {
	// DataType is Boolean, Integer or Date.
	DataType string
	// Writable is false for Subscriber-to-LMO parameters.
	Writable bool
}

// Params checks the desired feature parameter values against the package's parameters: each must
// exist, be LMO-to-Subscriber, and have a value of the parameter's type.
func Params(desired map[string]string, kinds map[string]string, defs map[string]Param) Decision {
	names := make([]string, 0, len(desired))
	for name := range desired {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		def, ok := defs[name]
		if !ok {
			return Decision{ReasonInvalidSpec, fmt.Sprintf("spec.featureParameters[%s]: the package has no feature parameter of that name", name)}
		}
		if !def.Writable {
			return Decision{ReasonReadOnlyParameter, fmt.Sprintf("spec.featureParameters[%s] is a Subscriber-to-LMO parameter: the subscriber org reports it and it cannot be set; remove it from the spec", name)}
		}
		if kinds[name] != def.DataType {
			article := "a"
			if def.DataType == "Integer" {
				article = "an"
			}
			return Decision{ReasonInvalidSpec, fmt.Sprintf("spec.featureParameters[%s] is %s %s parameter; set its %s value", name, article, def.DataType, strings.ToLower(def.DataType))}
		}
	}
	return Decision{}
}

// ValidDate reports whether s is a real calendar date YYYY-MM-DD (admission only checks the shape).
func ValidDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}
