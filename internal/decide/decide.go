// Package decide is the one procedure that says what may be written to an LMO license record now:
// for a License (License), when a License is deleted, and for a package's default terms (Defaults).
// The License controller, the engine writer's flush-time re-check and `lmoctl plan` all call it, so
// the plan says exactly what the operator does.
//
// Each decision is a chain of checks over a read-only view, in the style of cert-manager's
// certificate policy chain: the first check that decides the case gives the verdict. Everything here
// is a pure function of its arguments: no clock (today is an argument), no I/O.
package decide

import (
	"strings"
	"time"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/drift"
	"github.com/lmo-operator/lmo-operator/internal/engine"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/licstatus"
)

// Actions: what the operator does about a License (or a package's defaults for one install) now.
// `lmoctl plan -o json` shows them as they are.
const (
	// ActionUnchanged: the record matches every managed field; nothing is written.
	ActionUnchanged = "unchanged"
	// ActionUpdate: the differing fields are written (Verdict.Write).
	ActionUpdate = "update"
	// ActionHeld: the change cuts the customer's access now and waits for an approval.
	ActionHeld = "held"
	// ActionImpossible: the LMO never makes the change (Active to Trial, a trial over 90 days, an
	// Uninstalled record).
	ActionImpossible = "impossible"
	// ActionAwaitingInstall: the subscriber has not installed; the terms apply when it does.
	ActionAwaitingInstall = "awaitingInstall"
	// ActionObserve: the Observe policy; the record differs and nothing is written.
	ActionObserve = "observe"
	// ActionPaused: the paused annotation stops the write.
	ActionPaused = "paused"
	// ActionBlocked: the License cannot be applied as written (ambiguous subscriber, record or
	// package not found, a parameter the package lacks or cannot write, a record another License
	// owns, a record the operator cannot read, an LMO that refuses writes).
	ActionBlocked = "blocked"
	// ActionRelease: the License is being deleted and nothing needs writing first; let it go.
	ActionRelease = "release"
)

// Verdict is what may be done now, and why.
type Verdict struct {
	// Action is one of the Action constants.
	Action string
	// Reason is the condition reason the operator shows (a License condition reason, or
	// DefaultsMismatch for package defaults); empty when there is nothing to explain.
	Reason string
	// Message explains Reason in a sentence a user can act on.
	Message string
	// Drift are the managed fields whose record value differs, in drift order.
	Drift []drift.FieldDrift
	// Write is set only when something may be written now: the differing fields, after every guard.
	Write *engine.Write
	// Reductions say how the change cuts the customer's access now (held or approved).
	Reductions []string
	// Approval, set with Reductions, is the value of the approval annotation that approves this
	// change (drift.ApprovalToken): a reviewer who sets it approves exactly what the plan shows.
	Approval string
}

// Input is everything the decision for one License needs, read-only.
type Input struct {
	// License is the License: spec, annotations and deletion timestamp.
	License *licensingv1alpha1.License
	// Record is the LMO record the License resolved to (see Resolve).
	Record engine.License
	// Params are the package's feature parameters by full name.
	Params map[string]drift.Param
	// Owner, when set, is the name of another License that owns the record: this one writes nothing.
	Owner string
	// WritesBlocked, when set, says why the LMO takes no write (a non-production org).
	WritesBlocked string
	// Today is the current time; only its UTC date is used.
	Today time.Time
}

// check is one link of a chain: it returns the verdict and true when it decides the case.
type check func(c *licenseCase) (Verdict, bool)

// licenseCase is a License and its record, with the comparisons every check reads.
type licenseCase struct {
	Input
	desired, observed drift.Terms
	diffs             []drift.FieldDrift
	// summary names the drifted fields, comma-separated, as status.driftSummary shows them.
	summary string
	today   string
}

// licenseChain decides a License that is not being deleted, in this order.
var licenseChain = []check{
	duplicate, unreadable, terminal, subscriberOrgGone, invalidExpiration, featureParameters,
	observePolicy, paused, noDrift, notEditable, transition, accessReduction, writesBlocked, update,
}

// deletionChain decides a License being deleted.
var deletionChain = []check{
	keepsRecord, notOwner, gone, orgGoneOnDelete, unreadable, notEditable, deletionHeld, writesBlocked, suspend,
}

// License decides what may be written now for a License whose record is in.Record.
func License(in Input) Verdict {
	c := &licenseCase{Input: in, desired: DesiredTerms(in.License.Spec), observed: ObservedTerms(in.Record)}
	c.diffs = drift.Diff(c.desired, c.observed)
	c.summary = Summary(c.diffs)
	c.today = in.Today.UTC().Format(time.DateOnly)
	chain := licenseChain
	if !in.License.DeletionTimestamp.IsZero() {
		chain = deletionChain
	}
	for _, f := range chain {
		if v, done := f(c); done {
			if v.Drift == nil {
				v.Drift = c.diffs
			}
			return v
		}
	}
	panic("decide: the chain decided nothing") // update always decides
}

// Summary names the drifted fields, comma-separated.
func Summary(diffs []drift.FieldDrift) string {
	names := make([]string, len(diffs))
	for i, d := range diffs {
		names[i] = d.Field.String()
	}
	return strings.Join(names, ",")
}

func stop(action, reason, msg string) (Verdict, bool) {
	return Verdict{Action: action, Reason: reason, Message: msg}, true
}

// duplicate: another License owns the record.
func duplicate(c *licenseCase) (Verdict, bool) {
	if c.Owner == "" {
		return Verdict{}, false
	}
	return stop(ActionBlocked, licensingv1alpha1.ReasonDuplicateLicense, DuplicateMessage(c.Owner, c.Record.ID))
}

// DuplicateMessage explains why a License that does not own its record writes nothing.
func DuplicateMessage(owner, recordID string) string {
	return "License " + owner + " owns license record " + recordID + " (the oldest License that names a record owns it); this License writes nothing. Delete one of the two, or point this one at another record"
}

// unreadable: the record holds a value the operator cannot read, so nothing is written to it.
func unreadable(c *licenseCase) (Verdict, bool) {
	if c.Record.Unreadable == "" {
		return Verdict{}, false
	}
	return stop(ActionBlocked, licensingv1alpha1.ReasonUnreadableRecord, UnreadableMessage(c.Record))
}

// UnreadableMessage explains why a record is never written.
func UnreadableMessage(rec engine.License) string {
	return "License record " + rec.ID + " holds a value the operator cannot read (" + rec.Unreadable + "); it is not written until the value is corrected in the LMO"
}

// notEditable: the LMA does not let anyone modify the record (its License Type says so), so the
// operator does not either. It comes after noDrift so that a record that already matches is Synced
// and after observePolicy so that drift is still reported.
func notEditable(c *licenseCase) (Verdict, bool) {
	if c.Record.NotEditable == "" {
		return Verdict{}, false
	}
	return stop(ActionBlocked, licensingv1alpha1.ReasonNotEditable, NotEditableMessage(c.Record))
}

// NotEditableMessage explains why a record the LMA does not let anyone modify is never written.
func NotEditableMessage(rec engine.License) string {
	return "License record " + rec.ID + " is not written: " + rec.NotEditable +
		"; ask the customer to change the subscription, or set spec.managementPolicy to Observe"
}

// subscriberOrgGone: the customer's org is deleted or about to be, so its record is never written.
// It decides whatever the policy and whether the record matches: nothing the License asks for can
// reach a customer who is gone, and the License says so rather than Synced or Drifted.
func subscriberOrgGone(c *licenseCase) (Verdict, bool) {
	if c.Record.SubscriberOrgGone == "" {
		return Verdict{}, false
	}
	return stop(ActionBlocked, licensingv1alpha1.ReasonSubscriberOrgDeleted, SubscriberOrgGoneMessage(c.Record))
}

// SubscriberOrgGoneMessage explains why the record of a customer whose org is gone is never written.
func SubscriberOrgGoneMessage(rec engine.License) string {
	return "License record " + rec.ID + " is not written: " + rec.SubscriberOrgGone +
		"; the record stays in the LMO as history: delete this License (deletionPolicy Orphan leaves the record) once the customer is gone for good"
}

// orgGoneOnDelete: there is nobody left to suspend.
func orgGoneOnDelete(c *licenseCase) (Verdict, bool) {
	if c.Record.SubscriberOrgGone == "" {
		return Verdict{}, false
	}
	return stop(ActionRelease, "", "License record "+c.Record.ID+" is not suspended: "+c.Record.SubscriberOrgGone)
}

// RecordTypeAgrees reports whether the record's record type (the status the LMA page shows) agrees
// with its status: the same name, the Expired record type on a license whose expiration has passed
// by today (YYYY-MM-DD), or no record type at all (nothing to compare).
func RecordTypeAgrees(rec engine.License, today string) bool {
	switch rec.RecordType {
	case "", rec.Status:
		return true
	case licstatus.Expired:
		return rec.Status != licstatus.Uninstalled && rec.Expiration != engine.Never &&
			rec.Expiration != "" && rec.Expiration < today
	}
	return false
}

// RecordTypeMessage says that the status the LMA page shows is not the record's status.
func RecordTypeMessage(rec engine.License) string {
	return "The LMO record's status is " + rec.Status + " as the spec asks, but its record type (RecordType.Name), which is the status the LMA page shows, is " +
		rec.RecordType + "; the operator does not change record types: correct it with Modify License in the LMA"
}

// terminal: an Uninstalled record is never written.
func terminal(c *licenseCase) (Verdict, bool) {
	d := drift.Terminal(c.observed)
	if d.Allowed() {
		return Verdict{}, false
	}
	if len(c.diffs) == 0 && !hasManagedFields(c.desired) {
		return stop(ActionUnchanged, licensingv1alpha1.ReasonSynced, "The customer uninstalled the package; nothing is managed")
	}
	return stop(ActionImpossible, d.Reason, d.Message)
}

// invalidExpiration: admission checks the shape of spec.expiration, not the calendar.
func invalidExpiration(c *licenseCase) (Verdict, bool) {
	exp := c.License.Spec.Expiration
	if exp == "" || exp == licensingv1alpha1.Never || drift.ValidDate(exp) {
		return Verdict{}, false
	}
	return stop(ActionBlocked, licensingv1alpha1.ReasonInvalidSpec, "spec.expiration "+exp+" is not a calendar date")
}

// featureParameters: each must exist, be writable and have a value of its type.
func featureParameters(c *licenseCase) (Verdict, bool) {
	d := drift.Params(c.desired.Params, paramKinds(c.License.Spec), c.Params)
	if d.Allowed() {
		return Verdict{}, false
	}
	return stop(ActionBlocked, d.Reason, d.Message)
}

// observePolicy: drift is reported, nothing is written.
func observePolicy(c *licenseCase) (Verdict, bool) {
	if c.License.Spec.ManagementPolicy != licensingv1alpha1.PolicyObserve {
		return Verdict{}, false
	}
	if len(c.diffs) == 0 {
		return stop(ActionUnchanged, licensingv1alpha1.ReasonSynced, "The LMO record matches the spec")
	}
	return stop(ActionObserve, licensingv1alpha1.ReasonDrifted, "Observe policy: the LMO record differs from the spec in "+c.summary)
}

// paused: the annotation stops writes.
func paused(c *licenseCase) (Verdict, bool) {
	if !Paused(c.License) {
		return Verdict{}, false
	}
	if len(c.diffs) == 0 {
		return stop(ActionUnchanged, licensingv1alpha1.ReasonPaused, "Paused; the LMO record matches the spec")
	}
	return stop(ActionPaused, licensingv1alpha1.ReasonPaused, "Paused: the LMO record differs from the spec in "+c.summary)
}

// noDrift: nothing to write.
func noDrift(c *licenseCase) (Verdict, bool) {
	if len(c.diffs) > 0 {
		return Verdict{}, false
	}
	// The status the operator manages was written (or already matched) but the LMA page shows
	// another: say so rather than report all is well. Nothing is written for it.
	if c.desired.Status != "" && !RecordTypeAgrees(c.Record, c.today) {
		return stop(ActionUnchanged, licensingv1alpha1.ReasonRecordTypeMismatch, RecordTypeMessage(c.Record))
	}
	return stop(ActionUnchanged, licensingv1alpha1.ReasonSynced, "The LMO record matches the spec")
}

// transition: changes Salesforce never makes.
func transition(c *licenseCase) (Verdict, bool) {
	d := drift.Transition(c.desired, c.observed, c.Today.UTC())
	if d.Allowed() {
		return Verdict{}, false
	}
	return stop(ActionImpossible, d.Reason, d.Message)
}

// accessReduction: a change that cuts access now waits for the approval annotation.
func accessReduction(c *licenseCase) (Verdict, bool) {
	reductions := drift.AccessReductions(c.desired, c.observed, c.Record.UsedLicenses, c.today)
	token := drift.ApprovalToken(c.Record.ID, c.diffs)
	held := drift.HoldAccessReduction(reductions, Approval(c.License), token, licensingv1alpha1.AnnotationAllowAccessReduction)
	if held.Allowed() {
		return Verdict{}, false
	}
	return Verdict{Action: ActionHeld, Reason: held.Reason, Message: held.Message, Reductions: reductions, Approval: token}, true
}

// writesBlocked: the LMO takes no write.
func writesBlocked(c *licenseCase) (Verdict, bool) {
	if c.WritesBlocked == "" {
		return Verdict{}, false
	}
	return stop(ActionBlocked, licensingv1alpha1.ReasonLMONotReady, engine.ErrWritesBlocked.Error()+": "+c.WritesBlocked)
}

// update: every guard passed; write the fields that differ.
func update(c *licenseCase) (Verdict, bool) {
	w := writeFor(c.Record.ID, c.diffs, c.desired)
	v := Verdict{Action: ActionUpdate, Reason: licensingv1alpha1.ReasonWriteQueued, Message: "Writing " + c.summary + " to the LMO",
		Write: &w, Reductions: drift.AccessReductions(c.desired, c.observed, c.Record.UsedLicenses, c.today)}
	if len(v.Reductions) > 0 {
		v.Approval = drift.ApprovalToken(c.Record.ID, c.diffs)
	}
	return v, true
}

// keepsRecord: only deletionPolicy Suspend (Enforce, not paused) writes on delete.
func keepsRecord(c *licenseCase) (Verdict, bool) {
	if SuspendsOnDelete(c.License) {
		return Verdict{}, false
	}
	return stop(ActionRelease, "", "The License is deleted and its license record is left as it is")
}

// notOwner: a License that does not own its record leaves it alone on delete.
func notOwner(c *licenseCase) (Verdict, bool) {
	if c.Owner == "" {
		return Verdict{}, false
	}
	return stop(ActionRelease, "", "License "+c.Owner+" owns license record "+c.Record.ID+"; deleting this License leaves it as it is")
}

// gone: a record that is Suspended or Uninstalled needs no suspension.
func gone(c *licenseCase) (Verdict, bool) {
	switch c.Record.Status {
	case licstatus.Suspended, licstatus.Uninstalled:
		return stop(ActionRelease, "", "License record "+c.Record.ID+" is already "+c.Record.Status)
	}
	return Verdict{}, false
}

// deletionHeld: suspending on delete cuts the customer off and needs the approval annotation,
// naming this suspension.
func deletionHeld(c *licenseCase) (Verdict, bool) {
	rec := c.Record
	token := drift.ApprovalToken(rec.ID, suspension(rec))
	approval := Approval(c.License)
	if approval == token {
		return Verdict{}, false
	}
	msg := "Deleting this License suspends license " + rec.ID + " (" + rec.Status + " to Suspended), which cuts the customer off; "
	if approval == "" {
		msg += "to proceed, add the annotation " + licensingv1alpha1.AnnotationAllowAccessReduction + ": \"" + token + "\""
	} else {
		msg += "the annotation " + licensingv1alpha1.AnnotationAllowAccessReduction + " approves another change; to proceed, set it to \"" + token + "\""
	}
	return Verdict{Action: ActionHeld, Reason: licensingv1alpha1.ReasonAccessReductionHeld,
		Message:    msg + ", or set spec.deletionPolicy to Orphan",
		Reductions: []string{"status " + rec.Status + " to Suspended"}, Approval: token, Drift: suspension(rec)}, true
}

// suspend: the approved suspension on delete.
func suspend(c *licenseCase) (Verdict, bool) {
	suspended := licstatus.Suspended
	return Verdict{Action: ActionUpdate, Reason: licensingv1alpha1.ReasonWriteQueued,
		Message: "Suspending license " + c.Record.ID + " before the License is deleted",
		Write:   &engine.Write{LicenseID: c.Record.ID, Status: &suspended}, Reductions: []string{"status " + c.Record.Status + " to Suspended"},
		Drift: suspension(c.Record), Approval: drift.ApprovalToken(c.Record.ID, suspension(c.Record))}, true
}

// suspension is the change deleting a License with deletionPolicy Suspend makes to its record.
func suspension(rec engine.License) []drift.FieldDrift {
	return []drift.FieldDrift{drift.Drifted(drift.Status, licstatus.Suspended, rec.Status)}
}

// Paused reports whether the License carries the paused annotation.
func Paused(lic *licensingv1alpha1.License) bool {
	return lic.Annotations[licensingv1alpha1.AnnotationPaused] == "true"
}

// Approval is the value of the License's approval annotation: the name of the one change it
// approves (drift.ApprovalToken), or "".
func Approval(lic *licensingv1alpha1.License) string {
	return lic.Annotations[licensingv1alpha1.AnnotationAllowAccessReduction]
}

// SuspendsOnDelete reports whether deleting the License suspends its record first: deletionPolicy
// Suspend, under Enforce, not paused (a paused License never blocks its deletion).
func SuspendsOnDelete(lic *licensingv1alpha1.License) bool {
	return lic.Spec.DeletionPolicy == licensingv1alpha1.DeletionPolicySuspend &&
		lic.Spec.ManagementPolicy != licensingv1alpha1.PolicyObserve && !Paused(lic)
}

// writeFor is the write that sets the drifted fields to the desired values.
func writeFor(licenseID string, diffs []drift.FieldDrift, desired drift.Terms) engine.Write {
	w := engine.Write{LicenseID: licenseID}
	for _, d := range diffs {
		switch d.Field {
		case drift.Status:
			s := desired.Status
			w.Status = &s
		case drift.Seats:
			n := *desired.Seats
			w.Seats = &n
		case drift.Expiration:
			e := desired.Expiration
			w.Expiration = &e
		default:
			name, _ := d.Field.Parameter()
			if w.Params == nil {
				w.Params = map[string]string{}
			}
			w.Params[name] = desired.Params[name]
		}
	}
	return w
}
