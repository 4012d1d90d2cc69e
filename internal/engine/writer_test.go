package engine

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/lmo-operator/lmo-operator/internal/salesforce"
)

const (
	licA = "a0N000000000001AAA"
	licB = "a0N000000000002AAA"
	licC = "a0N000000000003AAA"
	licD = "a0N000000000004AAA"
	valA = "a0I000000000001AAA"
)

var writerNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// seatsRec is a license record update setting the seats, as Submit builds it.
func seatsRec(licenseID string, old, seats int64) pendingRecord {
	return pendingRecord{sobject: salesforce.LicenseObject, recordID: licenseID, licenseID: licenseID,
		fields:  map[string]any{salesforce.FieldSeats: seats},
		changes: map[string]FieldWrite{salesforce.FieldSeats: {"seats", itoa(int(old)), itoa(int(seats))}}}
}

// statusRec is a license record update setting the status, as Submit builds it.
func statusRec(licenseID, old, status string) pendingRecord {
	return pendingRecord{sobject: salesforce.LicenseObject, recordID: licenseID, licenseID: licenseID,
		fields:  map[string]any{salesforce.FieldStatus: status},
		changes: map[string]FieldWrite{salesforce.FieldStatus: {"status", old, status}}}
}

// valueRec is a value record update of an Integer feature parameter, as Submit builds it.
func valueRec(licenseID, recordID, name string, old, v int64) pendingRecord {
	field := "featureParameters[" + name + "]"
	return pendingRecord{sobject: salesforce.FeatureParameterInteger, recordID: recordID, licenseID: licenseID,
		fields:  map[string]any{salesforce.FieldFeatureParameterValue: v},
		changes: map[string]FieldWrite{salesforce.FieldFeatureParameterValue: {field, itoa(int(old)), itoa(int(v))}}}
}

// taken is what a test compares of a record handed out by take.
type taken struct {
	RecordID string
	Fields   map[string]any
	Changes  []FieldWrite
}

func takenOf(recs []*pendingRecord) []taken {
	out := make([]taken, 0, len(recs))
	for _, r := range recs {
		out = append(out, taken{RecordID: r.recordID, Fields: r.fields, Changes: sortedChanges(r.changes)})
	}
	return out
}

func TestWriterAddCoalescesFieldsPerRecord(t *testing.T) {
	tests := []struct {
		name string
		adds [][]pendingRecord
		want []taken
	}{
		{
			name: "two fields of one record become one update",
			adds: [][]pendingRecord{{seatsRec(licA, 50, 60)}, {statusRec(licA, "Active", "Suspended")}},
			want: []taken{{RecordID: licA,
				Fields:  map[string]any{salesforce.FieldSeats: int64(60), salesforce.FieldStatus: "Suspended"},
				Changes: []FieldWrite{{"seats", "50", "60"}, {"status", "Active", "Suspended"}}}},
		},
		{
			name: "a newer value of the same field replaces the older one",
			adds: [][]pendingRecord{{seatsRec(licA, 50, 60)}, {seatsRec(licA, 50, 70)}},
			want: []taken{{RecordID: licA, Fields: map[string]any{salesforce.FieldSeats: int64(70)},
				Changes: []FieldWrite{{"seats", "50", "70"}}}},
		},
		{
			name: "the same change submitted twice is queued once",
			adds: [][]pendingRecord{{seatsRec(licA, 50, 60)}, {seatsRec(licA, 50, 60)}},
			want: []taken{{RecordID: licA, Fields: map[string]any{salesforce.FieldSeats: int64(60)},
				Changes: []FieldWrite{{"seats", "50", "60"}}}},
		},
		{
			name: "a license and its value record stay separate records",
			adds: [][]pendingRecord{{seatsRec(licA, 50, 60), valueRec(licA, valA, "acme__MaxProjects", 20, 25)}},
			want: []taken{
				{RecordID: licA, Fields: map[string]any{salesforce.FieldSeats: int64(60)},
					Changes: []FieldWrite{{"seats", "50", "60"}}},
				{RecordID: valA, Fields: map[string]any{salesforce.FieldFeatureParameterValue: int64(25)},
					Changes: []FieldWrite{{"featureParameters[acme__MaxProjects]", "20", "25"}}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWriter()
			for _, recs := range tt.adds {
				w.add(licA, recs)
			}
			got := takenOf(w.take(writerNow, salesforce.CollectionsMax))
			sortTaken := cmpopts.SortSlices(func(a, b taken) bool { return a.RecordID < b.RecordID })
			if diff := cmp.Diff(tt.want, got, sortTaken); diff != "" {
				t.Errorf("taken records mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWriterAddDoesNotRequeueARefusedWrite(t *testing.T) {
	refusal := &WriteError{Code: "FIELD_CUSTOM_VALIDATION_EXCEPTION", Message: "Trials last at most 90 days", Terminal: true}
	w := newWriter()
	w.add(licA, []pendingRecord{seatsRec(licA, 50, 0)})
	for _, r := range w.take(writerNow, salesforce.CollectionsMax) {
		w.done(r, refusal, writerNow)
	}
	<-w.wake // the first add woke the write loop

	st := w.add(licA, []pendingRecord{seatsRec(licA, 50, 0)})
	if diff := cmp.Diff(WriteState{Err: refusal}, st); diff != "" {
		t.Errorf("state after resubmitting the refused write mismatch (-want +got):\n%s", diff)
	}
	if n := w.pendingCount(); n != 0 {
		t.Errorf("pendingCount after resubmitting the refused write = %d, want 0", n)
	}
	select {
	case <-w.wake:
		t.Errorf("resubmitting the refused write woke the write loop")
	default:
	}

	st = w.add(licA, []pendingRecord{seatsRec(licA, 50, 40)})
	if !st.Pending {
		t.Errorf("a write that differs from the refused one is not pending: %+v", st)
	}
	got := takenOf(w.take(writerNow, salesforce.CollectionsMax))
	want := []taken{{RecordID: licA, Fields: map[string]any{salesforce.FieldSeats: int64(40)},
		Changes: []FieldWrite{{"seats", "50", "40"}}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("taken after a changed write mismatch (-want +got):\n%s", diff)
	}
}

func TestWriterAddAfterRetryableFailureIsQueued(t *testing.T) {
	// Only terminal refusals are remembered: a write that failed for a transient reason is sent again.
	w := newWriter()
	w.add(licA, []pendingRecord{seatsRec(licA, 50, 60)})
	for _, r := range w.take(writerNow, salesforce.CollectionsMax) {
		w.done(r, &WriteError{Code: salesforce.CodeUnableToLockRow, Message: "unable to obtain exclusive access"}, writerNow)
	}
	w.add(licA, []pendingRecord{seatsRec(licA, 50, 60)})
	if n := w.pendingCount(); n != 1 {
		t.Errorf("pendingCount after resubmitting a write that failed transiently = %d, want 1", n)
	}
}

func TestWriterTake(t *testing.T) {
	tests := []struct {
		name    string
		add     []pendingRecord
		delayed map[string]time.Duration // record id -> notBefore after writerNow
		max     int
		want    []string
		left    int
	}{
		{
			name: "records come out ordered by id whatever the order they were queued in",
			add:  []pendingRecord{seatsRec(licC, 1, 2), seatsRec(licA, 1, 2), seatsRec(licB, 1, 2)},
			max:  200,
			want: []string{licA, licB, licC},
		},
		{
			name: "no more than max records are taken and the rest stay pending",
			add:  []pendingRecord{seatsRec(licD, 1, 2), seatsRec(licC, 1, 2), seatsRec(licB, 1, 2), seatsRec(licA, 1, 2)},
			max:  2,
			want: []string{licA, licB},
			left: 2,
		},
		{
			name:    "a record waiting for its retry is not taken before its time",
			add:     []pendingRecord{seatsRec(licA, 1, 2), seatsRec(licB, 1, 2)},
			delayed: map[string]time.Duration{licA: time.Second},
			max:     200,
			want:    []string{licB},
			left:    1,
		},
		{
			name: "nothing queued takes nothing",
			max:  200,
			want: []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWriter()
			for _, r := range tt.add {
				w.add(r.licenseID, []pendingRecord{r})
			}
			for id, d := range tt.delayed {
				w.pending[id15(id)].notBefore = writerNow.Add(d)
			}
			recs := w.take(writerNow, tt.max)
			got := make([]string, 0, len(recs))
			for _, r := range recs {
				got = append(got, r.recordID)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("take(%d) mismatch (-want +got):\n%s", tt.max, diff)
			}
			if n := w.pendingCount(); n != tt.left {
				t.Errorf("pendingCount after take = %d, want %d", n, tt.left)
			}
			for _, id := range tt.want {
				if !w.stateOf(id).Pending {
					t.Errorf("license %s is in flight but its state is not Pending", id)
				}
			}
		})
	}
}

func TestWriterRecordInFlightIsNotTakenAgain(t *testing.T) {
	tests := []struct {
		name    string
		finish  func(w *writer, r *pendingRecord)
		wantNow []taken
	}{
		{
			name:   "after done the newer change is taken",
			finish: func(w *writer, r *pendingRecord) { w.done(r, nil, writerNow) },
			wantNow: []taken{{RecordID: licA, Fields: map[string]any{salesforce.FieldSeats: int64(70)},
				Changes: []FieldWrite{{"seats", "50", "70"}}}},
		},
		{
			name: "after requeue the newer change is taken",
			finish: func(w *writer, r *pendingRecord) {
				w.requeue([]*pendingRecord{r}, time.Second, writerNow)
			},
			wantNow: []taken{{RecordID: licA, Fields: map[string]any{salesforce.FieldSeats: int64(70)},
				Changes: []FieldWrite{{"seats", "50", "70"}}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWriter()
			w.add(licA, []pendingRecord{seatsRec(licA, 50, 60)})
			first := w.take(writerNow, salesforce.CollectionsMax)
			if len(first) != 1 {
				t.Fatalf("first take returned %d records, want 1", len(first))
			}
			w.add(licA, []pendingRecord{seatsRec(licA, 50, 70)})
			if again := w.take(writerNow, salesforce.CollectionsMax); len(again) != 0 {
				t.Fatalf("a record in flight was taken again: %+v", takenOf(again))
			}
			if n := w.readyCount(writerNow); n != 0 {
				t.Errorf("readyCount while the record is in flight = %d, want 0", n)
			}
			if _, ok := w.nextReady(); ok {
				t.Errorf("nextReady reports a record that is in flight")
			}
			tt.finish(w, first[0])
			got := takenOf(w.take(writerNow, salesforce.CollectionsMax))
			if diff := cmp.Diff(tt.wantNow, got); diff != "" {
				t.Errorf("take after the first write finished mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWriterRequeue(t *testing.T) {
	t.Run("a failed record comes back after its delay with one more attempt", func(t *testing.T) {
		w := newWriter()
		w.add(licA, []pendingRecord{seatsRec(licA, 50, 60)})
		recs := w.take(writerNow, salesforce.CollectionsMax)
		w.requeue(recs, 2*time.Second, writerNow)

		if got := w.take(writerNow.Add(time.Second), salesforce.CollectionsMax); len(got) != 0 {
			t.Errorf("a requeued record was taken before its delay: %+v", takenOf(got))
		}
		next, ok := w.nextReady()
		if !ok || !next.Equal(writerNow.Add(2*time.Second)) {
			t.Errorf("nextReady = %v, %t; want %v, true", next, ok, writerNow.Add(2*time.Second))
		}
		got := w.take(writerNow.Add(2*time.Second), salesforce.CollectionsMax)
		if len(got) != 1 || got[0].attempts != 1 {
			t.Fatalf("take after the delay = %+v, want the record with 1 attempt", got)
		}
	})

	t.Run("a newer change of the same field keeps the newer value", func(t *testing.T) {
		w := newWriter()
		w.add(licA, []pendingRecord{seatsRec(licA, 50, 60)})
		recs := w.take(writerNow, salesforce.CollectionsMax)
		w.add(licA, []pendingRecord{seatsRec(licA, 50, 70)})
		w.requeue(recs, time.Second, writerNow)

		got := takenOf(w.take(writerNow, salesforce.CollectionsMax))
		want := []taken{{RecordID: licA, Fields: map[string]any{salesforce.FieldSeats: int64(70)},
			Changes: []FieldWrite{{"seats", "50", "70"}}}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("take after requeue mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("a newer change of another field keeps the failed field too", func(t *testing.T) {
		w := newWriter()
		w.add(licA, []pendingRecord{statusRec(licA, "Active", "Suspended")})
		recs := w.take(writerNow, salesforce.CollectionsMax)
		w.add(licA, []pendingRecord{seatsRec(licA, 50, 70)})
		w.requeue(recs, time.Second, writerNow)

		got := w.take(writerNow, salesforce.CollectionsMax)
		if len(got) != 1 {
			t.Fatalf("take after requeue returned %d records, want 1", len(got))
		}
		wantFields := map[string]any{salesforce.FieldSeats: int64(70), salesforce.FieldStatus: "Suspended"}
		if diff := cmp.Diff(wantFields, got[0].fields); diff != "" {
			t.Errorf("fields after requeue mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("a newer change of another field reports the failed field's change", func(t *testing.T) {
		// The changes reported to OnWrite (Events, metrics) must name the status change that was
		// merged back, with its old and new values.
		w := newWriter()
		w.add(licA, []pendingRecord{statusRec(licA, "Active", "Suspended")})
		recs := w.take(writerNow, salesforce.CollectionsMax)
		w.add(licA, []pendingRecord{seatsRec(licA, 50, 70)})
		w.requeue(recs, time.Second, writerNow)

		got := w.take(writerNow, salesforce.CollectionsMax)
		if len(got) != 1 {
			t.Fatalf("take after requeue returned %d records, want 1", len(got))
		}
		want := []FieldWrite{{"seats", "50", "70"}, {"status", "Active", "Suspended"}}
		if diff := cmp.Diff(want, sortedChanges(got[0].changes)); diff != "" {
			t.Errorf("changes after requeue mismatch (-want +got):\n%s", diff)
		}
	})
}

func TestWriterStateTransitions(t *testing.T) {
	refusal := &WriteError{Code: "NUMBER_OUTSIDE_VALID_RANGE", Message: "Seats: value outside of valid range", Terminal: true}
	t1, t2 := writerNow, writerNow.Add(time.Minute)

	w := newWriter()
	steps := []struct {
		name string
		do   func()
		want WriteState
	}{
		{
			name: "a license never written has the zero state",
			do:   func() {},
			want: WriteState{},
		},
		{
			name: "a queued write is pending",
			do:   func() { w.add(licA, []pendingRecord{seatsRec(licA, 50, 60)}) },
			want: WriteState{Pending: true},
		},
		{
			name: "a write in flight is still pending",
			do:   func() { w.take(t1, salesforce.CollectionsMax) },
			want: WriteState{Pending: true},
		},
		{
			name: "a successful write is no longer pending and records when it was written",
			do: func() {
				w.done(&pendingRecord{recordID: licA, licenseID: licA, fields: map[string]any{salesforce.FieldSeats: int64(60)}}, nil, t1)
			},
			want: WriteState{LastWritten: t1},
		},
		{
			name: "a license with two records stays pending until both are done",
			do: func() {
				w.add(licA, []pendingRecord{seatsRec(licA, 60, 0), valueRec(licA, valA, "acme__MaxProjects", 20, 25)})
				for _, r := range w.take(t2, salesforce.CollectionsMax) {
					if r.recordID == valA {
						w.done(r, nil, t2)
					} else {
						w.pending[id15(r.recordID)] = r // keep the license record waiting
						delete(w.inflight, id15(r.recordID))
					}
				}
			},
			want: WriteState{Pending: true, LastWritten: t2},
		},
		{
			name: "a refused write keeps the last success and reports the refusal",
			do: func() {
				for _, r := range w.take(t2, salesforce.CollectionsMax) {
					w.done(r, refusal, t2)
				}
			},
			want: WriteState{Err: refusal, LastWritten: t2},
		},
		{
			name: "a new write is pending and still shows the last refusal",
			do:   func() { w.add(licA, []pendingRecord{seatsRec(licA, 60, 80)}) },
			want: WriteState{Pending: true, Err: refusal, LastWritten: t2},
		},
		{
			name: "a success clears the refusal",
			do: func() {
				for _, r := range w.take(t2, salesforce.CollectionsMax) {
					w.done(r, nil, t2.Add(time.Second))
				}
			},
			want: WriteState{LastWritten: t2.Add(time.Second)},
		},
	}
	for _, s := range steps {
		s.do()
		// The state is kept by 15-character id: both forms answer the same.
		for _, id := range []string{licA, id15(licA)} {
			if diff := cmp.Diff(s.want, w.stateOf(id)); diff != "" {
				t.Errorf("%s: stateOf(%s) mismatch (-want +got):\n%s", s.name, id, diff)
			}
		}
	}
}
