package engine

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lmo-operator/lmo-operator/internal/lmosim"
	"github.com/lmo-operator/lmo-operator/internal/salesforce"
	"github.com/lmo-operator/lmo-operator/internal/testenv/testclock"
)

// Salesforce stores SystemModstamp to the second: several changes of one record share a stamp, and
// a change committed late carries a stamp older than changes seen before it. These tests run lmosim
// and the engine on one fake clock, so that "the same second" is exact.

// steppedOnAClock is stepped on a fake clock that starts at 09:00:00.100.
func steppedOnAClock(t *testing.T, transport http.RoundTripper) (*simEnv, context.Context, *testclock.Clock) {
	t.Helper()
	clock := testclock.New(time.Date(2026, 12, 1, 9, 0, 0, 100e6, time.UTC))
	env, ctx := steppedOn(t, transport, clock.Now)
	return env, ctx, clock
}

// personSets has Dana Admin change license fields through the REST API.
func (env *simEnv) personSets(ctx context.Context, id string, fields map[string]any) {
	env.t.Helper()
	if err := env.adminClient().PatchRecord(ctx, salesforce.LicenseObject, id, fields, time.Time{}); err != nil {
		env.t.Fatalf("PatchRecord as lmo-admin: %v", err)
	}
}

// wantMirror fails unless the mirror shows the license's seats as set by who.
func (env *simEnv) wantMirror(id string, seats int64, who, why string) {
	env.t.Helper()
	l, _ := env.eng.License(id)
	if l.Seats == nil || *l.Seats != seats || l.LastModifiedBy != who {
		got := "none"
		if l.Seats != nil {
			got = strconv.FormatInt(*l.Seats, 10)
		}
		env.t.Errorf("mirror of %s: seats %s by %q, want %d by %q: %s", id, got, l.LastModifiedBy, seats, who, why)
	}
}

// A person changed the seats twice within one second; a poll between the two read the first. The
// second change carries the same SystemModstamp as the copy the mirror held, and was dropped as
// "not newer": the mirror kept showing the first value for good.
func TestASecondEditInTheSameSecondIsSeen(t *testing.T) {
	t.Parallel()
	env, ctx, clock := steppedOnAClock(t, nil)
	clock.Advance(time.Second) // 09:00:01.100
	env.personSets(ctx, licA, map[string]any{salesforce.FieldSeats: 33})
	env.pollNow(ctx)
	env.wantMirror(licA, 33, "Dana Admin", "the first edit")
	clock.Advance(500 * time.Millisecond) // 09:00:01.600, the same second
	env.personSets(ctx, licA, map[string]any{salesforce.FieldSeats: 34})
	env.pollNow(ctx)
	env.wantMirror(licA, 34, "Dana Admin", "the second edit, made in the second of the first")
}

// The operator wrote the seats and a person changed them again within the same second: the
// person's copy has the stamp the mirror already held for the record and was dropped.
func TestAPersonsEditInTheSecondOfTheOperatorsWriteIsSeen(t *testing.T) {
	t.Parallel()
	env, ctx, clock := steppedOnAClock(t, nil)
	clock.Advance(time.Second)
	env.personSets(ctx, licA, map[string]any{salesforce.FieldExpiration: "2027-12-31"})
	env.pollNow(ctx) // the mirror holds a copy stamped 09:00:01
	env.submitSeats(63, licA)
	env.flushNow(ctx)
	env.pollNow(ctx)
	env.wantMirror(licA, 63, "Integration User", "the operator's write")
	env.personSets(ctx, licA, map[string]any{salesforce.FieldSeats: 64})
	env.pollNow(ctx)
	env.wantMirror(licA, 64, "Dana Admin", "the person's edit in the second of the operator's write")
}

// The write was built from a copy stamped 09:00:01; while it was answered, a person set the seats
// again in the same second and a poll brought that copy, stamped 09:00:01 too. The write answer
// must not be applied over the person's copy: the stamps are equal, but it is not the copy the
// write was built from.
func TestAWriteAnswerIsNotAppliedOverAnEditOfTheSameSecond(t *testing.T) {
	t.Parallel()
	var env *simEnv
	h := &hookTransport{base: http.DefaultTransport}
	var once sync.Once
	h.collections = func(req *http.Request, send func() (*http.Response, error)) (*http.Response, error) {
		resp, err := send()
		once.Do(func() {
			env.personSets(req.Context(), licA, map[string]any{salesforce.FieldSeats: 70})
			env.pollNow(req.Context())
		})
		return resp, err
	}
	env, ctx, clock := steppedOnAClock(t, h)
	clock.Advance(time.Second)
	env.personSets(ctx, licA, map[string]any{salesforce.FieldExpiration: "2027-12-31"})
	env.pollNow(ctx)
	env.submitSeats(63, licA)
	env.flushNow(ctx)
	env.wantMirror(licA, 70, "Dana Admin", "the person's edit, committed after the write and read before its answer")
	if got := env.seatsOf(licA); got != 70 {
		t.Fatalf("lmosim seats = %v, want 70", got)
	}
}

// Many changes share the watermark's second, and one commits late, stamped seconds before the
// newest stamp already seen: every poll's answer is taken, and the mirror ends with every change.
func TestNoChangeIsMissedWhenManyShareTheWatermarksSecond(t *testing.T) {
	t.Parallel()
	env, ctx, clock := steppedOnAClock(t, nil)
	ids := []string{licA, licB, licC}
	seats := int64(60)
	for round := 0; round < 4; round++ {
		clock.Advance(time.Second - 300*time.Millisecond)
		for i, id := range ids {
			seats++
			env.personSets(ctx, id, map[string]any{salesforce.FieldSeats: seats})
			if (round+i)%2 == 0 {
				env.pollNow(ctx) // the watermark is now this very second
			}
			clock.Advance(100 * time.Millisecond)
		}
	}
	env.pollNow(ctx)
	// A transaction that began 4 seconds ago commits now: its stamp is older than the watermark.
	if err := env.srv.AddFault(lmosim.Fault{Operation: "rowPatch", CommitDelayMs: 4000, Count: 1}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(900 * time.Millisecond)
	seats++
	env.personSets(ctx, licB, map[string]any{salesforce.FieldSeats: seats})
	l, _ := env.srv.GetLicense(licB)
	env.eng.mu.Lock()
	watermark := env.eng.watermark
	env.eng.mu.Unlock()
	if stamp := l.SystemModstamp; stamp >= watermark.UTC().Format("2006-01-02T15:04:05.000+0000") {
		t.Fatalf("the late commit is stamped %s, not before the watermark %s", stamp, watermark)
	}
	env.pollNow(ctx)
	for _, id := range ids {
		if got, want := env.mirrorSeats(id), int64(env.seatsOf(id)); got != want {
			t.Errorf("mirror seats of %s = %d, lmosim holds %d", id, got, want)
		}
	}
}

// The operator wrote the seats and a poll read its history row; within the same second a person
// set the seats and another write of the operator, built before the person's edit was seen,
// replaced them. The history rows of the person and of the second write share the second of the
// row the mirror had seen, and were all taken for seen: the person's edit was never reported.
func TestAnEditReplacedWithinTheSecondOfASeenChangeIsReported(t *testing.T) {
	t.Parallel()
	env, ctx, clock := steppedOnAClock(t, nil)
	clock.Advance(time.Second)
	env.submitSeats(63, licA)
	env.flushNow(ctx)
	env.pollNow(ctx) // the mirror has seen the write's history row, stamped 09:00:01
	env.personSets(ctx, licA, map[string]any{salesforce.FieldSeats: 70})
	env.submitSeats(64, licA)
	env.flushNow(ctx) // built from the copy showing 63: the edit is replaced unseen
	env.pollNow(ctx)
	if l, _ := env.eng.License(licA); !superseded(l, salesforce.FieldSeats, "70", "Dana Admin") {
		t.Errorf("License(%s).Superseded = %+v, want Dana Admin's seats 70, replaced within the second of a change already seen", licA, l.Superseded)
	}
	env.wantMirror(licA, 64, "Integration User", "the second write")
}
