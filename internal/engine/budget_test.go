package engine

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lmo-operator/lmo-operator/internal/salesforce"
)

func TestBudgetFor(t *testing.T) {
	tests := []struct {
		name    string
		usage   salesforce.Usage
		known   bool
		reserve int
		want    BudgetState
	}{
		{
			name:    "an unknown usage is a healthy budget",
			usage:   salesforce.Usage{Used: 999, Max: 1000},
			known:   false,
			reserve: 20,
			want:    BudgetState{},
		},
		{
			name:    "a usage without a daily limit is a healthy budget",
			usage:   salesforce.Usage{Used: 10, Max: 0},
			known:   true,
			reserve: 20,
			want:    BudgetState{},
		},
		{
			name:    "half the limit left is above the reserve",
			usage:   salesforce.Usage{Used: 500, Max: 1000},
			known:   true,
			reserve: 20,
			want:    BudgetState{},
		},
		{
			name:    "exactly the reserve left is not low",
			usage:   salesforce.Usage{Used: 800, Max: 1000},
			known:   true,
			reserve: 20,
			want:    BudgetState{},
		},
		{
			name:    "one request under the reserve is low and says what remains",
			usage:   salesforce.Usage{Used: 801, Max: 1000},
			known:   true,
			reserve: 20,
			want: BudgetState{Low: true, Message: "Only 199 of the org's 1000 daily API requests remain, under the 20% " +
				"reserve; writes are deferred and polling slowed until usage falls"},
		},
		{
			name:    "a spent limit is low",
			usage:   salesforce.Usage{Used: 1000, Max: 1000},
			known:   true,
			reserve: 20,
			want: BudgetState{Low: true, Message: "Only 0 of the org's 1000 daily API requests remain, under the 20% " +
				"reserve; writes are deferred and polling slowed until usage falls"},
		},
		{
			name:    "the connected app's own allocation under the reserve is low though the org has plenty",
			usage:   salesforce.Usage{Used: 100, Max: 1000, PerAppUsed: 210, PerAppMax: 250, AppName: "lmo-operator"},
			known:   true,
			reserve: 20,
			want: BudgetState{Low: true, Message: "Only 40 of the connected app lmo-operator's 250 daily API requests remain, under the 20% " +
				"reserve; writes are deferred and polling slowed until usage falls"},
		},
		{
			name:    "a per-app allocation with room left does not hide a spent org allocation",
			usage:   salesforce.Usage{Used: 990, Max: 1000, PerAppUsed: 1, PerAppMax: 250, AppName: "lmo-operator"},
			known:   true,
			reserve: 20,
			want: BudgetState{Low: true, Message: "Only 10 of the org's 1000 daily API requests remain, under the 20% " +
				"reserve; writes are deferred and polling slowed until usage falls"},
		},
		{
			name:    "no reserve is never low while requests remain",
			usage:   salesforce.Usage{Used: 999, Max: 1000},
			known:   true,
			reserve: 0,
			want:    BudgetState{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := budgetFor(tt.usage, tt.known, tt.reserve)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("budgetFor(%+v, %t, %d) mismatch (-want +got):\n%s", tt.usage, tt.known, tt.reserve, diff)
			}
		})
	}
}

func TestPollDelay(t *testing.T) {
	tests := []struct {
		name     string
		interval time.Duration
		budget   BudgetState
		want     time.Duration
	}{
		{"a healthy budget polls at the interval", time.Minute, BudgetState{}, time.Minute},
		{"a low budget polls four times slower", time.Minute, BudgetState{Low: true}, 4 * time.Minute},
		{"a spent limit alone does not slow polling", 30 * time.Second,
			BudgetState{LimitExceededUntil: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pollDelay(tt.interval, tt.budget); got != tt.want {
				t.Errorf("pollDelay(%v, %+v) = %v, want %v", tt.interval, tt.budget, got, tt.want)
			}
		})
	}
}

func TestLimitBackoff(t *testing.T) {
	tests := []struct {
		name string
		n    int
		want time.Duration
	}{
		{"no hit yet waits a minute", 0, time.Minute},
		{"the first hit waits a minute", 1, time.Minute},
		{"the second hit waits two minutes", 2, 2 * time.Minute},
		{"the third hit waits four minutes", 3, 4 * time.Minute},
		{"the fifth hit waits sixteen minutes", 5, 16 * time.Minute},
		{"the sixth hit is capped at thirty minutes", 6, 30 * time.Minute},
		{"many hits stay at thirty minutes", 1000, 30 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := limitBackoff(tt.n); got != tt.want {
				t.Errorf("limitBackoff(%d) = %v, want %v", tt.n, got, tt.want)
			}
		})
	}
}

func TestBackoffsDoubleUpToTheirCeiling(t *testing.T) {
	tests := []struct {
		name      string
		got, want time.Duration
	}{
		{"a write's first retry waits a second", retryDelay(0), time.Second},
		{"a write's third retry waits four seconds", retryDelay(2), 4 * time.Second},
		{"a write's retries stay at a minute", retryDelay(100), time.Minute},
		{"the first reconnect waits two seconds", reconnectDelay(1), 2 * time.Second},
		{"the fourth reconnect waits sixteen seconds", reconnectDelay(4), 16 * time.Second},
		{"reconnects stay at five minutes", reconnectDelay(100), 5 * time.Minute},
		{"a ceiling that is not a doubling of the first is kept", cappedDoubling(3*time.Second, 10*time.Second, 5), 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}
