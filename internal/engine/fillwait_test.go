package engine

import (
	"testing"
	"time"

	"github.com/lmo-operator/lmo-operator/internal/salesforce"
)

func TestFillWait(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name          string
		ready, seen   int
		lastAdd, from time.Time
		// idleSince is when the last License reconcile ended, zero while one runs
		idleSince time.Time
		want      time.Duration
	}{
		{"a change alone waits writeQuietAlone", 1, 1, now, now, time.Time{}, writeQuietAlone},
		{"two changes wait for the burst to end", 2, 2, now, now, time.Time{}, writeQuiet},
		{"what a burst leaves after a full batch waits for the rest of it", 1, salesforce.CollectionsMax + 1, now, now, time.Time{}, writeQuiet},
		{"a full batch goes at once", salesforce.CollectionsMax, salesforce.CollectionsMax, now, now, time.Time{}, 0},
		{"a batch waits no longer than writeMaxDelay", 5, 5, now, now.Add(-writeMaxDelay), time.Time{}, 0},
		{"quiet already passed", 3, 3, now.Add(-writeQuiet), now.Add(-writeQuiet), time.Time{}, 0},
		{"once the reconciles have stopped, what a burst leaves goes writeQuietAlone after the last one", 100, salesforce.CollectionsMax + 100,
			now.Add(-2 * time.Second), now.Add(-4 * time.Second), now.Add(-300 * time.Millisecond), writeQuietAlone - 300*time.Millisecond},
		{"a burst whose reconciles stopped a while ago is due", 100, 100, now.Add(-2 * time.Second), now.Add(-4 * time.Second), now.Add(-2 * time.Second), 0},
		{"a change queued after the reconciles stopped waits writeQuietAlone from itself", 2, 2, now, now.Add(-time.Second), now.Add(-time.Second), writeQuietAlone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fillWait(tt.ready, tt.seen, tt.lastAdd, tt.from, tt.idleSince, now); got != tt.want {
				t.Errorf("fillWait(%d ready, %d seen) = %s, want %s", tt.ready, tt.seen, got, tt.want)
			}
		})
	}
}

func TestReconcilesIdleSince(t *testing.T) {
	w := newWriter()
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	if got := w.reconcilesIdleSince(); !got.IsZero() {
		t.Fatalf("before any reconcile: %s, want zero (unknown)", got)
	}
	w.reconcileBegan()
	w.reconcileBegan()
	w.reconcileEnded(t0)
	if got := w.reconcilesIdleSince(); !got.IsZero() {
		t.Errorf("with one reconcile still under way: %s, want zero", got)
	}
	w.reconcileEnded(t0.Add(time.Second))
	if got := w.reconcilesIdleSince(); !got.Equal(t0.Add(time.Second)) {
		t.Errorf("after the last reconcile ended: %s, want %s", got, t0.Add(time.Second))
	}
}
