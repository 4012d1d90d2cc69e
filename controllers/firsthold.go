package controllers

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
)

// turn is what one License reconcile gathers for its status write: the Events to give once the
// write is stored, and whether all the reconcile has to say is that it queued a write.
type turn struct {
	events eventQueue
	queued bool
}

// statusWritten says whether the operator has ever stored a status for the License.
func statusWritten(l *licensingv1alpha1.License) bool {
	return len(l.Status.Conditions) > 0 || l.Status.ObservedGeneration != 0
}

// holdFirstStatus is how much longer a License's status write waits (0: write it now). Only a
// License with no status stored yet, whose reconcile only queued a write, waits for that write to
// land, and for no longer than firstStatusHold after it was first held (heldSince; zero when it has
// not been).
func holdFirstStatus(written, queuedOnly bool, heldSince, now time.Time) time.Duration {
	if written || !queuedOnly {
		return 0
	}
	if heldSince.IsZero() {
		return firstStatusHold
	}
	return max(0, heldSince.Add(firstStatusHold).Sub(now))
}

// firstHolds remembers when each held License was first held. An entry goes when the License's
// status write is stored or the License is gone; a hold that has passed stays until then, so a
// status write that loses a conflict is not held again.
type firstHolds struct {
	mu    sync.Mutex
	since map[types.NamespacedName]time.Time
}

func newFirstHolds() *firstHolds {
	return &firstHolds{since: map[types.NamespacedName]time.Time{}}
}

// hold applies holdFirstStatus to the License key and notes when its hold began.
func (h *firstHolds) hold(key types.NamespacedName, written, queuedOnly bool, now time.Time) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	since := h.since[key]
	wait := holdFirstStatus(written, queuedOnly, since, now)
	if wait > 0 && since.IsZero() {
		h.since[key] = now
	}
	return wait
}

// end forgets the License key.
func (h *firstHolds) end(key types.NamespacedName) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.since, key)
}
