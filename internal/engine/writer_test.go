package engine

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lmo-operator/lmo-operator/internal/salesforce"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/sfid"
)

const (
	licA = "a0N000000000001AAA"
	licB = "a0N000000000002AAA"
	licC = "a0N000000000003AAA"
	licD = "a0N000000000004AAA"
	valA = "a0I000000000001AAA"
)

var writerNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func seatsWrite(licenseID string, seats int64) Write {
	return Write{LicenseID: licenseID, Seats: &seats}
}

// record is the update of one record of a license, as flush builds it.
func record(licenseID, recordID string, fields map[string]any) *pendingRecord {
	return &pendingRecord{recordID: recordID, licenseID: licenseID, fields: fields}
}

func takenIDs(qs []*queued) []string {
	out := make([]string, len(qs))
	for i, q := range qs {
		out[i] = q.write.LicenseID
	}
	return out
}

func TestWriterAddReplacesTheWaitingWrite(t *testing.T) {
	w := newWriter()
	w.add(seatsWrite(licA, 60))
	w.add(seatsWrite(sfid.Key15(licA), 70)) // the 15-character id is the same license
	got := w.take(writerNow, salesforce.CollectionsMax)
	if len(got) != 1 || *got[0].write.Seats != 70 {
		t.Fatalf("take = %+v, want one write with the newest seats 70", got)
	}
}

func TestWriterTakeInIDOrderUpToMax(t *testing.T) {
	w := newWriter()
	for _, id := range []string{licC, licA, licB} {
		w.add(seatsWrite(id, 1))
	}
	if diff := cmp.Diff([]string{licA, licB}, takenIDs(w.take(writerNow, 2))); diff != "" {
		t.Errorf("take(2) mismatch (-want +got):\n%s", diff)
	}
	if got := takenIDs(w.take(writerNow, 2)); len(got) != 1 || got[0] != licC {
		t.Errorf("second take = %v, want [%s]", got, licC)
	}
	if got := w.take(writerNow, 2); len(got) != 0 {
		t.Errorf("third take = %v, want nothing", takenIDs(got))
	}
}

func TestWriterALicenseInFlightIsNotTakenAgain(t *testing.T) {
	w := newWriter()
	w.add(seatsWrite(licA, 60))
	q := w.take(writerNow, salesforce.CollectionsMax)[0]
	w.add(seatsWrite(licA, 70)) // the spec changed while the first write is in flight
	if got := w.take(writerNow, salesforce.CollectionsMax); len(got) != 0 {
		t.Fatalf("take while in flight = %v, want nothing", takenIDs(got))
	}
	w.finish(q, flightDone, 0, writerNow)
	got := w.take(writerNow, salesforce.CollectionsMax)
	if len(got) != 1 || *got[0].write.Seats != 70 {
		t.Fatalf("take after the flight = %+v, want the newer write", got)
	}
}

func TestWriterRetryWaitsAndKeepsANewerWrite(t *testing.T) {
	w := newWriter()
	w.add(seatsWrite(licA, 60))
	q := w.take(writerNow, salesforce.CollectionsMax)[0]
	w.finish(q, flightRetry, 4*time.Second, writerNow)
	if got := w.take(writerNow.Add(3*time.Second), salesforce.CollectionsMax); len(got) != 0 {
		t.Errorf("take before the backoff ended = %v, want nothing", takenIDs(got))
	}
	if got := w.take(writerNow.Add(4*time.Second), salesforce.CollectionsMax); len(got) != 1 || got[0].attempts != 1 {
		t.Errorf("take after the backoff = %+v, want the write with 1 attempt", got)
	}

	w.add(seatsWrite(licB, 60))
	q = w.take(writerNow, salesforce.CollectionsMax)[0]
	w.add(seatsWrite(licB, 80))
	w.finish(q, flightRetry, time.Minute, writerNow)
	got := w.take(writerNow, salesforce.CollectionsMax)
	if len(got) != 1 || *got[0].write.Seats != 80 {
		t.Errorf("take = %+v, want the newer write at once, not the retried one", got)
	}
}

func TestWriterALostAnswerWaitsForARereadBeforeItIsSentAgain(t *testing.T) {
	w := newWriter()
	w.add(seatsWrite(licA, 60))
	q := w.take(writerNow, salesforce.CollectionsMax)[0]
	w.finish(q, flightUnknown, time.Second, writerNow)
	if got := w.take(writerNow.Add(time.Hour), salesforce.CollectionsMax); len(got) != 0 {
		t.Fatalf("take before the re-read = %v, want nothing", takenIDs(got))
	}
	if st := w.stateOf(licA); !st.Pending {
		t.Errorf("state before the re-read = %+v, want pending", st)
	}
	if got := w.uncertainIDs(); len(got) != 1 || got[0] != licA {
		t.Fatalf("uncertainIDs = %v, want [%s]", got, licA)
	}
	if _, ok := w.nextReady(); !ok {
		t.Errorf("nextReady = false with a re-read waiting")
	}
	w.add(seatsWrite(licA, 90)) // a newer decision while the outcome is unknown
	w.reread([]string{licA})
	got := w.take(writerNow, salesforce.CollectionsMax)
	if len(got) != 1 || *got[0].write.Seats != 90 {
		t.Fatalf("take after the re-read = %+v, want the newest write, to be decided again", got)
	}
}

// Bug 6 of issue 11: the outcome is kept per record, so a refused value record is not erased by its
// license record's success in the same call.
func TestWriterKeepsTheOutcomeOfEachRecord(t *testing.T) {
	refusal := &WriteError{Code: "FIELD_CUSTOM_VALIDATION_EXCEPTION", Message: "Max projects cannot exceed 100", Terminal: true}
	t1, t2 := writerNow, writerNow.Add(time.Minute)
	w := newWriter()
	licRec := record(licA, licA, map[string]any{salesforce.FieldSeats: int64(60)})
	valRec := record(licA, valA, map[string]any{salesforce.FieldFeatureParameterValue: int64(500)})
	steps := []struct {
		name string
		do   func()
		want WriteState
	}{
		{"a license never written has the zero state", func() {}, WriteState{}},
		{"a queued write is pending", func() { w.add(seatsWrite(licA, 60)) }, WriteState{Pending: true}},
		{"a write in flight is still pending", func() { w.take(t1, salesforce.CollectionsMax) }, WriteState{Pending: true}},
		{
			name: "the value refused and the license written in one call: the refusal stays",
			do: func() {
				w.recorded(valRec, refusal, t1)
				w.recorded(licRec, nil, t1)
				w.finish(&queued{write: seatsWrite(licA, 60)}, flightDone, 0, t1)
			},
			want: WriteState{Err: refusal, LastWritten: t1},
		},
		{
			name: "the same refused fields are not sent again",
			do: func() {
				if !w.isRefused(valA, map[string]any{salesforce.FieldFeatureParameterValue: int64(500)}) {
					t.Errorf("isRefused = false for the refused value")
				}
				if w.isRefused(valA, map[string]any{salesforce.FieldFeatureParameterValue: int64(50)}) {
					t.Errorf("isRefused = true for another value")
				}
			},
			want: WriteState{Err: refusal, LastWritten: t1},
		},
		{
			name: "a decision that still asks for the value keeps the refusal",
			do:   func() { w.clearErrors(licA, map[string]bool{sfid.Key15(valA): true}) },
			want: WriteState{Err: refusal, LastWritten: t1},
		},
		{
			name: "a success of the value record clears it",
			do:   func() { w.recorded(valRec, nil, t2) },
			want: WriteState{LastWritten: t2},
		},
		{
			name: "a decision that no longer asks for a refused record ends the refusal",
			do: func() {
				w.recorded(valRec, refusal, t2)
				w.clearErrors(licA, nil)
			},
			want: WriteState{LastWritten: t2},
		},
	}
	for _, s := range steps {
		s.do()
		for _, id := range []string{licA, sfid.Key15(licA)} {
			if diff := cmp.Diff(s.want, w.stateOf(id)); diff != "" {
				t.Errorf("%s: stateOf(%s) mismatch (-want +got):\n%s", s.name, id, diff)
			}
		}
	}
}

func TestOutcomeUnknown(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"a dropped connection", errLostAnswer, true},
		{"a server error", &salesforce.APIError{StatusCode: 500, Code: "UNKNOWN_EXCEPTION"}, true},
		{"the API limit (nothing applied)", &salesforce.APIError{StatusCode: 403, Code: "REQUEST_LIMIT_EXCEEDED"}, false},
		{"an expired session (nothing applied)", &salesforce.APIError{StatusCode: 401, Code: "INVALID_SESSION_ID"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := outcomeUnknown(tt.err); got != tt.want {
				t.Errorf("outcomeUnknown(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
