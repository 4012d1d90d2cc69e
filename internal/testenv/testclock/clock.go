// Package testclock is a fake clock that only the test moves, for lmosim, the engine and lmoctl
// (their Now options). It imports nothing of this module, so that every package's own tests can use it.
package testclock

import (
	"sync"
	"time"
)

// Clock is a fake clock; it reads what it was set to until the test moves it.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New is a Clock that reads now.
func New(now time.Time) *Clock { return &Clock{now: now} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
