package salesforce

import (
	"testing"
	"time"
)

func TestServerStartOf(t *testing.T) {
	at := time.Date(2026, 11, 26, 1, 2, 3, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		date      string
		roundTrip time.Duration
		want      time.Time
	}{
		{"the Date less the round trip", "Thu, 26 Nov 2026 01:02:03 GMT", 250 * time.Millisecond, at.Add(-250 * time.Millisecond)},
		{"no round trip", "Thu, 26 Nov 2026 01:02:03 GMT", 0, at},
		{"a negative round trip (clock step) counts as none", "Thu, 26 Nov 2026 01:02:03 GMT", -time.Second, at},
		{"RFC 850 form", "Thursday, 26-Nov-26 01:02:03 GMT", 0, at},
		{"no header", "", time.Second, time.Time{}},
		{"unreadable header", "yesterday", time.Second, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := serverStartOf(tc.date, tc.roundTrip); !got.Equal(tc.want) {
				t.Errorf("serverStartOf(%q, %v) = %v, want %v", tc.date, tc.roundTrip, got, tc.want)
			}
		})
	}
}
