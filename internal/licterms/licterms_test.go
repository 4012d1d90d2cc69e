package licterms

import (
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/lmo-operator/lmo-operator/internal/drift"
)

func TestSeats(t *testing.T) {
	tests := []struct {
		name string
		in   intstr.IntOrString
		want int64
	}{
		{"a number is its seats", intstr.FromInt32(250), 250},
		{"the largest seat count admission allows", intstr.FromInt32(99_000_000), 99_000_000},
		{"SiteLicense is the LMO's minus one", intstr.FromString(drift.SiteLicense), drift.SiteLicenseSeats},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Seats(tt.in); got != tt.want {
				t.Errorf("Seats(%v) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

// The seats a License shows (drift.SeatsText) read back as a spec value give the same seats.
func FuzzSeatsTextReadsBack(f *testing.F) {
	for _, n := range []int32{1, 250, 99_000_000, -1} {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, n int32) {
		if n < 1 && n != -1 {
			return // admission allows 1 to 99,000,000 and SiteLicense (-1 in the LMO)
		}
		seats := int64(n)
		text := drift.SeatsText(&seats)
		if back := Seats(intstr.Parse(text)); back != seats {
			t.Errorf("Seats(intstr.Parse(SeatsText(%d) = %q)) = %d", seats, text, back)
		}
	})
}
