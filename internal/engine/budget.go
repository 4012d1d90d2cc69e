package engine

import (
	"strconv"
	"time"

	"github.com/lmo-operator/lmo-operator/internal/salesforce"
)

// BudgetState says how the engine may spend the org's daily API allocation.
type BudgetState struct {
	// Low is true when less than the reserve remains: writes wait and polling slows.
	Low bool
	// LimitExceededUntil is set after Salesforce answered REQUEST_LIMIT_EXCEEDED: no call is made
	// before it.
	LimitExceededUntil time.Time
	// Message explains the state to a user; empty when the budget is healthy.
	Message string
}

// budgetFor decides the budget state from the last known usage: below reservePercent of the daily
// limit left, only the reads needed for safety run. A pure function of its arguments.
func budgetFor(u salesforce.Usage, known bool, reservePercent int) BudgetState {
	if !known || u.Max <= 0 {
		return BudgetState{}
	}
	// The allocation that runs out first decides: the connected app's own, when the org set one.
	b := u.Binding()
	remaining := b.Max - b.Used
	if remaining*100 < b.Max*reservePercent {
		return BudgetState{Low: true, Message: budgetMessage(u, reservePercent)}
	}
	return BudgetState{}
}

func budgetMessage(u salesforce.Usage, reservePercent int) string {
	b, whose := u.Binding(), "the org's"
	if u.PerApp() {
		whose = "the connected app " + u.AppName + "'s"
	}
	return "Only " + itoa(b.Max-b.Used) + " of " + whose + " " + itoa(b.Max) + " daily API requests remain, under the " +
		itoa(reservePercent) + "% reserve; writes are deferred and polling slowed until usage falls"
}

// pollDelay is how long to wait before the next poll: the poll interval, four times longer when the
// budget is low.
func pollDelay(interval time.Duration, b BudgetState) time.Duration {
	if b.Low {
		return 4 * interval
	}
	return interval
}

// limitBackoff is how long to stop calling after the n-th consecutive REQUEST_LIMIT_EXCEEDED: one
// minute, doubling up to 30 minutes.
func limitBackoff(n int) time.Duration { return cappedDoubling(time.Minute, 30*time.Minute, n-1) }

// cappedDoubling is first doubled doublings times, but never past ceiling: the engine's backoffs
// (a write's retry, a reconnect, the daily limit) differ only in where they start and stop.
func cappedDoubling(first, ceiling time.Duration, doublings int) time.Duration {
	d := first
	for i := 0; i < doublings && d < ceiling; i++ {
		d *= 2
	}
	return min(d, ceiling)
}

func itoa(n int) string { return strconv.Itoa(n) }
