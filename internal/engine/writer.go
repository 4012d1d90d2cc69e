package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lmo-operator/lmo-operator/internal/salesforce"
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

// Empty reports whether the write sets nothing.
func (w Write) Empty() bool {
	return w.Status == nil && w.Seats == nil && w.Expiration == nil && len(w.Params) == 0
}

// WriteState is what became of the writes for one license.
type WriteState struct {
	// Pending is true while a write is queued or in flight.
	Pending bool
	// Err is the last write's failure; nil after a success.
	Err *WriteError
	// LastWritten is when a write for the license last succeeded.
	LastWritten time.Time
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
	Field, Old, New string
}

// pendingRecord is the coalesced set of fields to write to one record.
type pendingRecord struct {
	sobject   string
	recordID  string
	licenseID string
	fields    map[string]any
	changes   map[string]FieldWrite
	attempts  int
	notBefore time.Time
}

// writer queues field changes per record and flushes them in Collections calls of up to 200 records.
// A newer change to a record replaces the older one before it is sent; a change submitted while the
// record is in flight is sent after it, so the newest value wins.
type writer struct {
	mu       sync.Mutex
	pending  map[string]*pendingRecord // by record id
	inflight map[string]string         // record id -> 15-character license id
	// inflightSig holds the fields of each record being sent.
	inflightSig map[string]string
	states      map[string]*WriteState // by 15-character license id
	// refused remembers terminal failures by record id and fields, so an unchanged spec does not
	// send the same refused write again.
	refused map[string]string
	wake    chan struct{}
}

func newWriter() *writer {
	return &writer{pending: map[string]*pendingRecord{}, inflight: map[string]string{}, inflightSig: map[string]string{}, states: map[string]*WriteState{},
		refused: map[string]string{}, wake: make(chan struct{}, 1)}
}

// add queues the record updates of one license write. It returns the license's write state.
func (w *writer) add(licenseID string, recs []pendingRecord) WriteState {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := w.state(licenseID)
	queued := false
	for _, r := range recs {
		key := id15(r.recordID)
		sig := fieldsSignature(r.fields)
		if w.refused[key] == sig {
			continue
		}
		p := w.pending[key]
		if p == nil && w.inflightSig[key] == sig {
			// The same change is being sent right now.
			queued = true
			continue
		}
		if p == nil {
			rec := r
			rec.fields = map[string]any{}
			rec.changes = map[string]FieldWrite{}
			p = &rec
			w.pending[key] = p
		}
		for f, v := range r.fields {
			p.fields[f] = v
		}
		for f, c := range r.changes {
			p.changes[f] = c
		}
		queued = true
	}
	if queued {
		st.Pending = true
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
	return *st
}

func (w *writer) state(licenseID string) *WriteState {
	key := id15(licenseID)
	st := w.states[key]
	if st == nil {
		st = &WriteState{}
		w.states[key] = st
	}
	return st
}

// stateOf returns the write state of a license.
func (w *writer) stateOf(licenseID string) WriteState {
	w.mu.Lock()
	defer w.mu.Unlock()
	if st := w.states[id15(licenseID)]; st != nil {
		return *st
	}
	return WriteState{}
}

// take removes up to max records that are ready to send, in record id order.
func (w *writer) take(now time.Time, max int) []*pendingRecord {
	w.mu.Lock()
	defer w.mu.Unlock()
	keys := make([]string, 0, len(w.pending))
	for k, p := range w.pending {
		if _, busy := w.inflight[k]; !busy && !p.notBefore.After(now) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if len(keys) > max {
		keys = keys[:max]
	}
	out := make([]*pendingRecord, 0, len(keys))
	for _, k := range keys {
		p := w.pending[k]
		out = append(out, p)
		delete(w.pending, k)
		w.inflight[k] = id15(p.licenseID)
		w.inflightSig[k] = fieldsSignature(p.fields)
	}
	return out
}

// nextReady is when the earliest pending record may be sent; zero when nothing is pending.
func (w *writer) nextReady() (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var next time.Time
	found := false
	for k, p := range w.pending {
		if _, busy := w.inflight[k]; busy {
			continue
		}
		if !found || p.notBefore.Before(next) {
			next, found = p.notBefore, true
		}
	}
	return next, found
}

// pendingCount is the number of records waiting to be written.
func (w *writer) pendingCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending)
}

// requeue puts records back after a failure that retrying may fix, unless a newer change for the
// same record arrived meanwhile (the newer one is already pending and wins).
func (w *writer) requeue(recs []*pendingRecord, delay time.Duration, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range recs {
		key := id15(r.recordID)
		delete(w.inflight, key)
		delete(w.inflightSig, key)
		if newer := w.pending[key]; newer != nil {
			for f, v := range r.fields {
				if _, ok := newer.fields[f]; !ok {
					newer.fields[f] = v
					newer.changes[f] = r.changes[f]
				}
			}
			continue
		}
		r.attempts++
		r.notBefore = now.Add(delay)
		w.pending[key] = r
	}
}

// done records the outcome of records sent.
func (w *writer) done(r *pendingRecord, err *WriteError, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	key := id15(r.recordID)
	delete(w.inflight, key)
	delete(w.inflightSig, key)
	st := w.state(r.licenseID)
	st.Err = err
	if err == nil {
		st.LastWritten = now
		delete(w.refused, key)
	} else if err.Terminal {
		w.refused[key] = fieldsSignature(r.fields)
	}
	st.Pending = w.licensePendingLocked(r.licenseID)
}

func (w *writer) licensePendingLocked(licenseID string) bool {
	for _, p := range w.pending {
		if id15(p.licenseID) == id15(licenseID) {
			return true
		}
	}
	for _, id := range w.inflight {
		if id == id15(licenseID) {
			return true
		}
	}
	return false
}

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

// writeErrorFrom turns a client error into a WriteError.
func writeErrorFrom(err error) *WriteError {
	if err == nil {
		return nil
	}
	we := &WriteError{Code: "ERROR", Message: err.Error()}
	var apiErr *salesforce.APIError
	if errors.As(err, &apiErr) {
		we.Code, we.Message, we.Fields = apiErr.Code, apiErr.Message, apiErr.Fields
	}
	switch salesforce.ClassOf(err) {
	case salesforce.Validation, salesforce.Terminal:
		we.Terminal = true
	}
	return we
}

// flush sends one Collections call of up to 200 ready records and routes each result back.
func (e *Engine) flush(ctx context.Context) (sent int, err error) {
	recs := e.writer.take(e.now(), salesforce.CollectionsMax)
	if len(recs) == 0 {
		return 0, nil
	}
	updates := make([]salesforce.RecordUpdate, len(recs))
	for i, r := range recs {
		updates[i] = salesforce.RecordUpdate{SObject: r.sobject, ID: r.recordID, Fields: r.fields}
	}
	results, callErr := e.client.Update(ctx, updates, false)
	now := e.now()
	var retry []*pendingRecord
	var reports []WriteResult
	for i, r := range recs {
		if i >= len(results) {
			retry = append(retry, r)
			continue
		}
		res := results[i]
		if res.Success {
			e.mirror.applyWrite(updates[i])
			e.writer.done(r, nil, now)
			reports = append(reports, WriteResult{LicenseID: r.licenseID, Changes: sortedChanges(r.changes)})
			continue
		}
		werr := saveError(res)
		if !werr.Terminal && r.attempts < maxRecordAttempts {
			retry = append(retry, r)
			continue
		}
		e.writer.done(r, werr, now)
		reports = append(reports, WriteResult{LicenseID: r.licenseID, Changes: sortedChanges(r.changes), Err: werr})
	}
	if len(retry) > 0 {
		e.writer.requeue(retry, retryDelay(retry[0].attempts), now)
	}
	if len(reports) > 0 && e.cfg.OnWrite != nil {
		e.cfg.OnWrite(reports)
	}
	e.notifyIDs(licenseIDsOf(recs))
	return len(recs), callErr
}

// maxRecordAttempts bounds the retries of a record failing with a transient error (e.g.
// UNABLE_TO_LOCK_ROW) before it is reported as failed; a later spec change queues it again.
const maxRecordAttempts = 8

// retryDelay is the backoff before the n-th retry: 1s doubling to 1 minute.
func retryDelay(attempts int) time.Duration {
	d := time.Second
	for i := 0; i < attempts && d < time.Minute; i++ {
		d *= 2
	}
	if d > time.Minute {
		d = time.Minute
	}
	return d
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

func licenseIDsOf(recs []*pendingRecord) []string {
	seen := map[string]bool{}
	for _, r := range recs {
		seen[r.licenseID] = true
	}
	return sortedKeys(seen)
}

// readyCount is the number of records that may be sent now.
func (w *writer) readyCount(now time.Time) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for k, p := range w.pending {
		if _, busy := w.inflight[k]; !busy && !p.notBefore.After(now) {
			n++
		}
	}
	return n
}
