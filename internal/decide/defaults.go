package decide

import (
	"fmt"
	"strings"
	"time"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/drift"
	"github.com/lmo-operator/lmo-operator/internal/engine"
	"github.com/lmo-operator/lmo-operator/internal/licterms"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/licstatus"
)

// DefaultsInput is everything the decision about one install and its package's defaults needs,
// read-only.
type DefaultsInput struct {
	// Defaults are the package's default terms.
	Defaults licensingv1alpha1.PackageDefaults
	// Policy is the package's defaultsPolicy: only Enforce writes.
	Policy licensingv1alpha1.Policy
	// Record is the install's license record.
	Record engine.License
	// From is when the defaults take effect (see DefaultsFrom); earlier installs are left alone.
	From time.Time
	// ClaimedBy, when set, names a License that names the record: a License always wins over
	// defaults.
	ClaimedBy string
	// WritesBlocked, when set, says why the LMO takes no write.
	WritesBlocked string
	// Today is the current time; only its UTC date is used.
	Today time.Time
}

// defaultsCase is an install and its defaults, with the comparisons every check reads.
type defaultsCase struct {
	DefaultsInput
	desired, observed drift.Terms
	diffs             []drift.FieldDrift
	today             string
}

type defaultsCheck func(c *defaultsCase) (Verdict, bool)

// defaultsChain decides an install, in this order. Defaults are set at most once per install, on a
// record nobody changed since the install (the LMO's field history says so, whatever restarts the
// operator went through), and through the same guards as a License.
var defaultsChain = []defaultsCheck{
	outOfScope, unreadableInstall, orgGoneInstall, installMatches, defaultsObserved, claimedByLicense, notEditableInstall, changedSinceInstall,
	defaultsTransition, defaultsCutAccess, defaultsWritesBlocked, setDefaults,
}

// Defaults decides what may be written now to make an install get its package's defaults.
func Defaults(in DefaultsInput) Verdict {
	c := &defaultsCase{DefaultsInput: in, desired: DefaultsTerms(in.Defaults, in.Record), observed: ObservedTerms(in.Record),
		today: in.Today.UTC().Format(time.DateOnly)}
	c.diffs = drift.Diff(c.desired, c.observed)
	for _, f := range defaultsChain {
		if v, done := f(c); done {
			if v.Drift == nil {
				v.Drift = c.diffs
			}
			return v
		}
	}
	panic("decide: the defaults chain decided nothing")
}

// DefaultsApply reports whether a package's defaults apply to an install: installed on or after
// from, and not Uninstalled.
func DefaultsApply(rec engine.License, from time.Time) bool {
	return rec.InstallDate != "" && rec.InstallDate >= from.UTC().Format(time.DateOnly) &&
		rec.Status != licstatus.Uninstalled
}

// DefaultsFrom is when a package's defaults take effect: spec.defaultsEffectiveFrom, or the
// ManagedPackage's creation when it is left out. An effective date before the creation would reach
// installs made before anyone declared the defaults, so it needs the allow-defaults-before-creation
// annotation; without it the creation is used and note says so.
func DefaultsFrom(pkg *licensingv1alpha1.ManagedPackage) (from time.Time, note string) {
	created := pkg.CreationTimestamp.Time
	if pkg.Spec.DefaultsEffectiveFrom == nil {
		return created, ""
	}
	from = pkg.Spec.DefaultsEffectiveFrom.Time
	day := func(t time.Time) string { return t.UTC().Format(time.DateOnly) }
	if day(from) >= day(created) || pkg.Annotations[licensingv1alpha1.AnnotationAllowDefaultsBeforeCreation] == "true" {
		return from, ""
	}
	return created, fmt.Sprintf("spec.defaultsEffectiveFrom %s precedes the ManagedPackage's creation, so the defaults apply from %s; add the annotation %s: \"true\" to apply them to earlier installs",
		day(from), day(created), licensingv1alpha1.AnnotationAllowDefaultsBeforeCreation)
}

// DefaultsTerms are the terms an install should have under the defaults: status, seats (sandbox
// installs are exempt: they get a site license) and the expiration counted from the install date.
func DefaultsTerms(d licensingv1alpha1.PackageDefaults, rec engine.License) drift.Terms {
	t := drift.Terms{Status: string(d.Status)}
	if !rec.IsSandbox {
		seats := licterms.Seats(d.Seats)
		t.Seats = &seats
	}
	if install, err := time.Parse(time.DateOnly, rec.InstallDate); err == nil {
		t.Expiration = drift.Never
		switch {
		case d.Status == licensingv1alpha1.LicenseStatusTrial && d.TrialDays != nil:
			t.Expiration = install.AddDate(0, 0, int(*d.TrialDays)).Format(time.DateOnly)
		case d.Status == licensingv1alpha1.LicenseStatusActive && d.ActiveDays != nil:
			t.Expiration = install.AddDate(0, 0, int(*d.ActiveDays)).Format(time.DateOnly)
		}
	}
	return t
}

func mismatch(action, msg string) (Verdict, bool) {
	return Verdict{Action: action, Reason: licensingv1alpha1.ReasonDefaultsMismatch, Message: msg}, true
}

func outOfScope(c *defaultsCase) (Verdict, bool) {
	if DefaultsApply(c.Record, c.From) {
		return Verdict{}, false
	}
	return Verdict{Action: ActionUnchanged, Message: "The install predates the defaults or was uninstalled"}, true
}

func unreadableInstall(c *defaultsCase) (Verdict, bool) {
	if c.Record.Unreadable == "" {
		return Verdict{}, false
	}
	return stop(ActionBlocked, licensingv1alpha1.ReasonUnreadableRecord, UnreadableMessage(c.Record))
}

// orgGoneInstall: an install whose subscriber org is gone gets nothing.
func orgGoneInstall(c *defaultsCase) (Verdict, bool) {
	if c.Record.SubscriberOrgGone == "" {
		return Verdict{}, false
	}
	return Verdict{Action: ActionUnchanged, Message: "License record " + c.Record.ID + " is not set: " + c.Record.SubscriberOrgGone}, true
}

func notEditableInstall(c *defaultsCase) (Verdict, bool) {
	if c.Record.NotEditable == "" {
		return Verdict{}, false
	}
	return stop(ActionBlocked, licensingv1alpha1.ReasonNotEditable, NotEditableMessage(c.Record))
}

func installMatches(c *defaultsCase) (Verdict, bool) {
	if len(c.diffs) > 0 {
		return Verdict{}, false
	}
	return stop(ActionUnchanged, licensingv1alpha1.ReasonDefaultsMatch, "The install got the defaults")
}

func defaultsObserved(c *defaultsCase) (Verdict, bool) {
	if c.Policy == licensingv1alpha1.PolicyEnforce {
		return Verdict{}, false
	}
	return mismatch(ActionObserve, "The install did not get the defaults in "+Summary(c.diffs))
}

func claimedByLicense(c *defaultsCase) (Verdict, bool) {
	if c.ClaimedBy == "" {
		return Verdict{}, false
	}
	return mismatch(ActionObserve, "License "+c.ClaimedBy+" names this record; the defaults are not set")
}

func changedSinceInstall(c *defaultsCase) (Verdict, bool) {
	if !c.Record.TermsChanged {
		return Verdict{}, false
	}
	return mismatch(ActionObserve, "The record's terms were changed in the LMO after the install; the defaults are set only on untouched installs")
}

func defaultsTransition(c *defaultsCase) (Verdict, bool) {
	if d := drift.Transition(c.desired, c.observed, c.Today.UTC()); !d.Allowed() {
		return stop(ActionImpossible, d.Reason, "Setting the defaults is impossible: the install is "+c.Record.Status+
			" and an Active license never goes back to Trial, nor does a trial last over 90 days")
	}
	return Verdict{}, false
}

func defaultsCutAccess(c *defaultsCase) (Verdict, bool) {
	reductions := drift.AccessReductions(c.desired, c.observed, c.Record.UsedLicenses, c.today)
	if len(reductions) == 0 {
		return Verdict{}, false
	}
	return Verdict{Action: ActionHeld, Reason: licensingv1alpha1.ReasonAccessReductionHeld, Reductions: reductions,
		Message: "Setting the defaults would cut the customer's access now (" + strings.Join(reductions, "; ") +
			"); they are not set. Write a License for the subscriber to set its terms"}, true
}

func defaultsWritesBlocked(c *defaultsCase) (Verdict, bool) {
	if c.WritesBlocked == "" {
		return Verdict{}, false
	}
	return stop(ActionBlocked, licensingv1alpha1.ReasonLMONotReady, engine.ErrWritesBlocked.Error()+": "+c.WritesBlocked)
}

func setDefaults(c *defaultsCase) (Verdict, bool) {
	w := writeFor(c.Record.ID, c.diffs, c.desired)
	return Verdict{Action: ActionUpdate, Reason: licensingv1alpha1.ReasonDefaultsMismatch,
		Message: "Setting " + Summary(c.diffs) + " to the defaults", Write: &w}, true
}
