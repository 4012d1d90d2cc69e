package decide

import (
	"time"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/licstatus"
)

// The windows of a license's expiration (status.expiryNotice.window).
const (
	// WindowNone: more than 30 days left, lapsed more than lapsedFor ago, or no expiration.
	WindowNone   = ""
	Window30     = licensingv1alpha1.ExpiryWindow30Days
	Window7      = licensingv1alpha1.ExpiryWindow7Days
	WindowLapsed = licensingv1alpha1.ExpiryWindowLapsed
)

// The terms a license's expiration ends.
const (
	ExpiryTrial = licensingv1alpha1.ExpiryTermTrial
	ExpiryPaid  = licensingv1alpha1.ExpiryTermPaid
)

// lapsedFor is how long after its expiration a license still counts as lapsed: a license found
// lapsed longer ago (an operator installed over an old fleet) is old news, not a notice.
const lapsedFor = 30

// Expiry is where a license stands against its expiration now.
type Expiry struct {
	// Term is ExpiryTrial or ExpiryPaid; "" for a license that does not expire, is Suspended or
	// Uninstalled.
	Term string
	// Window is one of the Window constants.
	Window string
	// DaysLeft counts the days from today to the expiration, the license's last day: 0 on that
	// day, -1 the day after. Meaningful only with a Term.
	DaysLeft int
	// Next is when the license enters its next window (00:00 UTC of that day); zero when no later
	// window will be noticed.
	Next time.Time
}

// ExpiryOf says which window a license with this status and expiration (YYYY-MM-DD or Never, as
// the mirror holds it) is in at now, and when it enters the next. Days are UTC dates: the LMA
// stores the expiration as a date without a zone, and every replica of the operator must agree.
func ExpiryOf(status, expiration string, now time.Time) Expiry {
	var term string
	switch status {
	case licensingv1alpha1.ExpiryTermTrial:
		term = ExpiryTrial
	case licstatus.Active:
		term = ExpiryPaid
	default:
		return Expiry{}
	}
	exp, err := time.Parse(time.DateOnly, expiration)
	if err != nil {
		return Expiry{} // Never, or nothing readable
	}
	today := now.UTC().Truncate(24 * time.Hour)
	days := int(exp.Sub(today).Hours() / 24)
	at := func(daysBefore int) time.Time { return exp.AddDate(0, 0, -daysBefore) }
	e := Expiry{Term: term, DaysLeft: days}
	switch {
	case days > 30:
		e.Window, e.Next = WindowNone, at(30)
	case days > 7:
		e.Window, e.Next = Window30, at(7)
	case days >= 0:
		e.Window, e.Next = Window7, at(-1)
	case days >= -lapsedFor:
		e.Window = WindowLapsed
	default:
		e.Window = WindowNone
	}
	return e
}

// windowRank orders the windows a term goes through.
func windowRank(w string) int {
	switch w {
	case Window30:
		return 1
	case Window7:
		return 2
	case WindowLapsed:
		return 3
	}
	return 0
}

// NoticeDue reports whether the window e is in deserves a notice, given the last notice given
// (nil: none) about the license whose expiration is expiration. A notice is given once per
// window of one term (the term and its expiration date): a window that a notice already covered,
// or one behind it, gets none; a new expiration date or a trial converted to paid starts again.
func NoticeDue(e Expiry, expiration string, last *licensingv1alpha1.ExpiryNotice) bool {
	if e.Window == WindowNone {
		return false
	}
	if last == nil || last.Term != e.Term || last.Expiration != expiration {
		return true
	}
	return windowRank(e.Window) > windowRank(last.Window)
}
