package engine

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lmo-operator/lmo-operator/internal/salesforce"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/sfid"
)

// Write asks for some fields of one license record to be set. Only the fields that differ from the
// record should be given; nil fields are left alone.
type Write struct {
	// LicenseID is the license record's id.
	LicenseID string
	// Status is Trial, Active or Suspended.
	Status *string
	// Seats is a seat count, -1 for a site license.
	Seats *int64
	// Expiration is YYYY-MM-DD, or Never for no expiration.
	Expiration *string
	// Params are feature parameter values as text (true/false, an integer, YYYY-MM-DD) by full name.
	Params map[string]string
}

// WriteState is what became of the writes for one license.
type WriteState struct {
	// Pending is true while a write is queued, in flight, or sent with an unknown outcome.
	Pending bool
	// Err is a failure of one of the license's records (the license or a feature parameter value):
	// a refusal stays until that record is written or the spec asks for something else.
	Err *WriteError
	// LastWritten is when a write for the license last succeeded.
	LastWritten time.Time
	// LastChanges are the fields that write set (of every record of the license it wrote), in
	// field order.
	LastChanges []FieldWrite
}

// WriteError is a write the LMO refused or that failed.
type WriteError struct {
	// Code is Salesforce's error code, e.g. FIELD_CUSTOM_VALIDATION_EXCEPTION.
	Code string
	// Message is Salesforce's message.
	Message string
	// Fields are the fields Salesforce named.
	Fields []string
	// Terminal is true when retrying the same write will fail again; the spec must change.
	Terminal bool
}

func (e *WriteError) Error() string {
	if len(e.Fields) > 0 {
		return fmt.Sprintf("%s: %s (%s)", e.Code, e.Message, strings.Join(e.Fields, ", "))
	}
	return e.Code + ": " + e.Message
}

// WriteResult reports one record written or refused, for Events and metrics.
type WriteResult struct {
	LicenseID string
	// Changes are the fields written, with the values before and after, as text.
	Changes []FieldWrite
	Err     *WriteError
}

// FieldWrite is one field set by a write.
type FieldWrite struct {
	// Field is the drift field (status, seats, expiration, featureParameters[NAME]); Old and New
	// its values before and after, as text.
	Field, Old, New string
	// Replaces is who set the value the write replaced, and when, from the license's field history
	// (for a feature parameter, its value record's last modifier); zero when unknown, as for a
	// value the install set.
	Replaces FieldChange
}

// pendingRecord is the update of one record built from a license's write at flush time: the fields
// that still differ from the mirror.
type pendingRecord struct {
	sobject   string
	recordID  string
	licenseID string
	fields    map[string]any
	changes   map[string]FieldWrite
	// built is the version of the mirror's copy of the record the update was built from: the
	// answer is applied to the mirror only if no other copy arrived meanwhile.
	built copyVersion
}

func (r *pendingRecord) update() salesforce.RecordUpdate {
	return salesforce.RecordUpdate{SObject: r.sobject, ID: r.recordID, Fields: r.fields}
}

// flight is one license's write being sent: the records built for it at flush time.
type flight struct {
	q       *queued
	records []*pendingRecord
	outcome flightOutcome
}

// queued is the write waiting for one license.
type queued struct {
	write     Write
	attempts  int
	notBefore time.Time
}

// writer holds the writes waiting per license. It keeps what was asked (the newest Write of each
// license), never the records to send: those are built at flush time from the license's current
// decision and the mirror, so a write the spec no longer asks for is never sent.
type writer struct {
	mu    sync.Mutex
	queue map[string]*queued // by 15-character license id
	// inflight are the licenses whose records are being sent.
	inflight map[string]bool
	// uncertain are the licenses sent in a call whose answer was lost: their records are re-read
	// before anything is sent for them again.
	uncertain map[string]*queued
	states    map[string]*licenseState
	// refused remembers terminal failures by record id and fields, so an unchanged spec does not
	// send the same refused write again.
	refused map[string]string
	wake    chan struct{}
	// reconciling counts the License reconciles under way (Engine.BeginReconcile), and
	// reconciledAt is when the last one ended.
	reconciling  int
	reconciledAt time.Time
}

// licenseState is the outcome of the writes of one license, per record.
type licenseState struct {
	errs        map[string]*WriteError // by 15-character record id
	lastWritten time.Time
	lastChanges []FieldWrite
}

func newWriter() *writer {
	return &writer{queue: map[string]*queued{}, inflight: map[string]bool{}, uncertain: map[string]*queued{},
		states: map[string]*licenseState{}, refused: map[string]string{}, wake: make(chan struct{}, 1)}
}

// reconcileBegan and reconcileEnded count the License reconciles under way.
func (w *writer) reconcileBegan() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reconciling++
}

func (w *writer) reconcileEnded(now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reconciling--
	w.reconciledAt = now
}

// reconcilesIdleSince is when the last License reconcile ended; zero while one runs or before
// any has.
func (w *writer) reconcilesIdleSince() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.reconciling > 0 {
		return time.Time{}
	}
	return w.reconciledAt
}

// add queues the write of one license, replacing an older one: the newest decision wins.
func (w *writer) add(wr Write) WriteState {
	w.mu.Lock()
	defer w.mu.Unlock()
	key := sfid.Key15(wr.LicenseID)
	if q := w.queue[key]; q != nil {
		q.write = wr
	} else if q := w.uncertain[key]; q != nil {
		q.write = wr
	} else {
		w.queue[key] = &queued{write: wr}
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return w.stateLocked(key)
}

// woken signals that a write was queued or a license is to be read again.
func (w *writer) woken() <-chan struct{} { return w.wake }

// isRefused reports whether the record was refused for good with exactly these fields.
func (w *writer) isRefused(recordID string, fields map[string]any) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	sig, ok := w.refused[sfid.Key15(recordID)]
	return ok && sig == fieldsSignature(fields)
}

func (w *writer) license(key string) *licenseState {
	st := w.states[key]
	if st == nil {
		st = &licenseState{errs: map[string]*WriteError{}}
		w.states[key] = st
	}
	return st
}

func (w *writer) stateLocked(key string) WriteState {
	out := WriteState{Pending: w.queue[key] != nil || w.inflight[key] || w.uncertain[key] != nil}
	st := w.states[key]
	if st == nil {
		return out
	}
	out.LastWritten = st.lastWritten
	out.LastChanges = append([]FieldWrite(nil), st.lastChanges...)
	ids := make([]string, 0, len(st.errs))
	for id := range st.errs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if e := st.errs[id]; out.Err == nil || e.Terminal && !out.Err.Terminal {
			out.Err = e
		}
	}
	return out
}

// stateOf returns the write state of a license.
func (w *writer) stateOf(licenseID string) WriteState {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stateLocked(sfid.Key15(licenseID))
}

// take removes up to limit licenses whose writes are ready to send, in license id order, and marks
// them in flight.
func (w *writer) take(now time.Time, limit int) []*queued {
	w.mu.Lock()
	defer w.mu.Unlock()
	keys := make([]string, 0, len(w.queue))
	for k, q := range w.queue {
		if !w.inflight[k] && !q.notBefore.After(now) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if len(keys) > limit {
		keys = keys[:limit]
	}
	out := make([]*queued, 0, len(keys))
	for _, k := range keys {
		out = append(out, w.queue[k])
		delete(w.queue, k)
		w.inflight[k] = true
	}
	return out
}

// putBack returns a taken write that was not sent, unless a newer one arrived meanwhile.
func (w *writer) putBack(q *queued) {
	w.mu.Lock()
	defer w.mu.Unlock()
	key := sfid.Key15(q.write.LicenseID)
	delete(w.inflight, key)
	if w.queue[key] == nil {
		w.queue[key] = q
	}
}

// finish ends the flight of a license: its write is done (nothing more to send), retried after
// delay, or, when the answer was lost, held until its records are re-read.
func (w *writer) finish(q *queued, outcome flightOutcome, delay time.Duration, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	key := sfid.Key15(q.write.LicenseID)
	delete(w.inflight, key)
	switch outcome {
	case flightRetry:
		if w.queue[key] == nil {
			q.attempts++
			q.notBefore = now.Add(delay)
			w.queue[key] = q
		}
	case flightUnknown:
		if newer := w.queue[key]; newer != nil {
			delete(w.queue, key)
			q = newer
		}
		w.uncertain[key] = q
	}
}

// redecide replaces the write of a taken item with the one the flush-time decision asks for (the
// same license).
func (w *writer) redecide(q *queued, write Write) {
	w.mu.Lock()
	defer w.mu.Unlock()
	write.LicenseID = q.write.LicenseID
	q.write = write
}

// drop forgets the write of a license that was taken and needs nothing sent.
func (w *writer) drop(q *queued) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.inflight, sfid.Key15(q.write.LicenseID))
}

// recorded stores the outcome of one record.
func (w *writer) recorded(r *pendingRecord, err *WriteError, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := w.license(sfid.Key15(r.licenseID))
	key := sfid.Key15(r.recordID)
	if err == nil {
		if !st.lastWritten.Equal(now) {
			st.lastChanges = nil
		}
		st.lastWritten = now
		st.lastChanges = append(st.lastChanges, sortedChanges(r.changes)...)
		sort.SliceStable(st.lastChanges, func(i, j int) bool { return st.lastChanges[i].Field < st.lastChanges[j].Field })
		delete(st.errs, key)
		delete(w.refused, key)
		return
	}
	st.errs[key] = err
	if err.Terminal {
		w.refused[key] = fieldsSignature(r.fields)
	}
}

// clearErrors forgets the failures of a license's records that are not in keep (nil: all of them):
// the decision no longer asks to change those records, so their refusal is over.
func (w *writer) clearErrors(licenseID string, keep map[string]bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := w.states[sfid.Key15(licenseID)]
	if st == nil {
		return
	}
	for id := range st.errs {
		if !keep[id] {
			delete(st.errs, id)
			delete(w.refused, id)
		}
	}
}

// uncertainIDs are the licenses whose records must be re-read before anything is sent for them.
func (w *writer) uncertainIDs() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, len(w.uncertain))
	for _, q := range w.uncertain {
		out = append(out, q.write.LicenseID)
	}
	sort.Strings(out)
	return out
}

// reread puts the writes of re-read licenses back in the queue, to be decided again against what
// the re-read showed.
func (w *writer) reread(ids []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range ids {
		key := sfid.Key15(id)
		q := w.uncertain[key]
		if q == nil {
			continue
		}
		delete(w.uncertain, key)
		if w.queue[key] == nil {
			q.notBefore = time.Time{}
			w.queue[key] = q
		}
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// rereadLater has the records of licenses read again before anything more is sent for them: a
// read brought copies that may predate a write applied while it ran (see mirror.applyRead).
func (w *writer) rereadLater(ids []string) {
	if len(ids) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range ids {
		key := sfid.Key15(id)
		if w.uncertain[key] != nil {
			continue
		}
		q := w.queue[key]
		if q != nil {
			delete(w.queue, key)
		} else {
			q = &queued{write: Write{LicenseID: id}}
		}
		w.uncertain[key] = q
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// nextReady is when the earliest write may be sent; false when nothing waits. A license waiting for
// a re-read is ready now.
func (w *writer) nextReady() (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.uncertain) > 0 {
		return time.Time{}, true
	}
	var next time.Time
	found := false
	for k, q := range w.queue {
		if w.inflight[k] {
			continue
		}
		if !found || q.notBefore.Before(next) {
			next, found = q.notBefore, true
		}
	}
	return next, found
}

// readyCount is the number of licenses whose writes may be sent now.
func (w *writer) readyCount(now time.Time) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(w.uncertain)
	for k, q := range w.queue {
		if !w.inflight[k] && !q.notBefore.After(now) {
			n++
		}
	}
	return n
}

// pendingCount is the number of licenses waiting to be written.
func (w *writer) pendingCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.queue) + len(w.uncertain)
}

// settle records the answer of a Collections call for the flights it carried: answer gives a
// record's result, false when the call did not answer for it (callErr says why). A written record
// is applied with apply, which reports false when the mirror holds a newer copy than the write was
// built from; its license is returned in stale, to be read again. A record refused for good, or
// failing past maxRecordAttempts, is reported; one failing transiently is retried after the
// write's backoff; one whose answer was lost is read again before anything more is sent.
func (w *writer) settle(flights []*flight, answer func(*pendingRecord) (salesforce.SaveResult, bool), callErr error,
	now time.Time, apply func(*pendingRecord) bool) (reports []WriteResult, stale []string) {
	for _, f := range flights {
		for _, r := range f.records {
			res, answered := answer(r)
			switch {
			case !answered && outcomeUnknown(callErr):
				// Salesforce may have applied it: re-read before anything is sent again.
				f.outcome = flightUnknown
			case !answered:
				f.outcome = max(f.outcome, flightRetry)
			case res.Success:
				if !apply(r) {
					// A copy newer than the one the write was built from arrived meanwhile; it
					// may have been read before the write committed. Read the record again
					// before anything more is sent for it.
					stale = append(stale, r.licenseID)
				}
				w.recorded(r, nil, now)
				reports = append(reports, WriteResult{LicenseID: r.licenseID, Changes: sortedChanges(r.changes)})
			default:
				werr := saveError(res)
				if !werr.Terminal && f.q.attempts < maxRecordAttempts {
					f.outcome = max(f.outcome, flightRetry)
					continue
				}
				w.recorded(r, werr, now)
				reports = append(reports, WriteResult{LicenseID: r.licenseID, Changes: sortedChanges(r.changes), Err: werr})
			}
		}
		w.finish(f.q, f.outcome, retryDelay(f.q.attempts), now)
	}
	return reports, stale
}

// flightOutcome is what becomes of a license's write after a Collections call.
type flightOutcome int

const (
	flightDone flightOutcome = iota
	flightRetry
	flightUnknown
)

// fieldsSignature is a stable text form of a record's fields.
func fieldsSignature(fields map[string]any) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%v;", k, fields[k])
	}
	return b.String()
}

// outcomeUnknown reports whether a failed Collections call may have been applied: Salesforce did not
// answer (a dropped connection, a timeout, an unreadable answer) or answered with a server error. A
// 4xx answer (an expired session, the API limit, a bad request) means nothing was applied.
func outcomeUnknown(err error) bool {
	var apiErr *salesforce.APIError
	if errors.As(err, &apiErr) && apiErr.StatusCode >= http.StatusBadRequest && apiErr.StatusCode < http.StatusInternalServerError {
		return false
	}
	var authErr *salesforce.AuthError
	return !errors.As(err, &authErr)
}

// maxRecordAttempts bounds the retries of a record failing with a transient error (e.g.
// UNABLE_TO_LOCK_ROW) before it is reported as failed; a later spec change queues it again.
const maxRecordAttempts = 8

// retryDelay is the backoff before the n-th retry: 1s doubling to 1 minute.
func retryDelay(attempts int) time.Duration {
	return cappedDoubling(time.Second, time.Minute, attempts)
}

func saveError(res salesforce.SaveResult) *WriteError {
	if len(res.Errors) == 0 {
		return &WriteError{Code: "UNKNOWN", Message: "Salesforce reported a failure without an error", Terminal: true}
	}
	first := res.Errors[0]
	we := &WriteError{Code: first.Code, Message: first.Message, Fields: first.Fields}
	we.Terminal = salesforce.ClassOf(&first) != salesforce.Retryable
	return we
}

func sortedChanges(m map[string]FieldWrite) []FieldWrite {
	out := make([]FieldWrite, 0, len(m))
	for _, c := range m {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}
