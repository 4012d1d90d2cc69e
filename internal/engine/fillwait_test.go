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
		want          time.Duration
	}{
		{"a change alone waits writeQuietAlone", 1, 1, now, now, writeQuietAlone},
		{"two changes wait for the burst to end", 2, 2, now, now, writeQuiet},
		{"what a burst leaves after a full batch waits for the rest of it", 1, salesforce.CollectionsMax + 1, now, now, writeQuiet},
		{"a full batch goes at once", salesforce.CollectionsMax, salesforce.CollectionsMax, now, now, 0},
		{"a batch waits no longer than writeMaxDelay", 5, 5, now, now.Add(-writeMaxDelay), 0},
		{"quiet already passed", 3, 3, now.Add(-writeQuiet), now.Add(-writeQuiet), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fillWait(tt.ready, tt.seen, tt.lastAdd, tt.from, now); got != tt.want {
				t.Errorf("fillWait(%d ready, %d seen) = %s, want %s", tt.ready, tt.seen, got, tt.want)
			}
		})
	}
}
