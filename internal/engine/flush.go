package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/lmo-operator/lmo-operator/internal/salesforce"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/sfid"
)

// flush re-reads the records of writes whose outcome is unknown, then decides again, for up to 200
// records of waiting writes, what may be written now, and sends that in one Collections call. The
// writer settles the answer; the engine applies what was written to the mirror and reports it.
func (e *Engine) flush(ctx context.Context) (sent int, err error) {
	if err := e.rereadUncertain(ctx); err != nil {
		return 0, err
	}
	flights, recs := e.nextBatch()
	if len(recs) == 0 {
		return 0, nil
	}
	updates, answer := collectionsCall(recs)
	results, callErr := e.client.Update(ctx, updates, false)
	reports, stale := e.writer.settle(flights, func(r *pendingRecord) (salesforce.SaveResult, bool) {
		if i := answer[r]; i < len(results) {
			return results[i], true
		}
		return salesforce.SaveResult{}, false
	}, callErr, e.now(), e.applyWritten)
	e.writer.rereadLater(stale)
	if len(reports) > 0 && e.cfg.OnWrite != nil {
		e.cfg.OnWrite(e, reports)
	}
	ids := make([]string, len(flights))
	for i, f := range flights {
		ids[i] = f.q.write.LicenseID
	}
	e.notifyIDs(ids)
	return len(recs), callErr
}

// nextBatch takes the writes that are ready and decides each again, up to the 200 records of one
// Collections call; the writes that do not fit go back to the queue.
func (e *Engine) nextBatch() (flights []*flight, recs []*pendingRecord) {
	taken := e.writer.take(e.now(), salesforce.CollectionsMax)
	for i, q := range taken {
		f, ok := e.decide(q)
		if !ok {
			continue
		}
		if len(recs)+len(f.records) > salesforce.CollectionsMax {
			for _, rest := range taken[i:] {
				e.writer.putBack(rest)
			}
			break
		}
		flights = append(flights, f)
		recs = append(recs, f.records...)
	}
	return flights, recs
}

// collectionsCall orders records for one Collections call and returns the updates and where each
// record's answer is. Salesforce processes at most 10 chunks a call, a chunk being a run of
// consecutive records of one type: grouping the records by type makes one chunk per type.
func collectionsCall(recs []*pendingRecord) ([]salesforce.RecordUpdate, map[*pendingRecord]int) {
	order := slices.Clone(recs)
	slices.SortStableFunc(order, func(a, b *pendingRecord) int { return strings.Compare(a.sobject, b.sobject) })
	pos := make(map[*pendingRecord]int, len(order))
	updates := make([]salesforce.RecordUpdate, len(order))
	for i, r := range order {
		pos[r] = i
		updates[i] = r.update()
	}
	return updates, pos
}

// applyWritten applies a record the LMO wrote to the mirror; false when a copy newer than the one
// the write was built from arrived meanwhile (see mirror.applyWrite).
func (e *Engine) applyWritten(r *pendingRecord) bool {
	return e.mirror.applyWrite(r.update(), r.built) != ""
}

// decide builds the records of a taken write: the License's current decision (Recheck) against the
// mirror as it is now, less what the LMO refused for good. It reports false, and lets the write go,
// when nothing is to be sent.
func (e *Engine) decide(q *queued) (*flight, bool) {
	id := q.write.LicenseID
	if e.cfg.Recheck != nil {
		w, ok := e.cfg.Recheck(e, id)
		if !ok {
			e.writer.clearErrors(id, nil)
			e.writer.drop(q)
			return nil, false
		}
		e.writer.redecide(q, w)
	}
	built, err := e.records(q.write)
	if err != nil {
		e.cfg.Log.Info("A queued write is no longer sent", "license", id, "reason", err.Error())
		e.writer.drop(q)
		return nil, false
	}
	f := &flight{q: q}
	asked := map[string]bool{}
	for i := range built {
		r := &built[i]
		asked[sfid.Key15(r.recordID)] = true
		if e.writer.isRefused(r.recordID, r.fields) {
			continue
		}
		f.records = append(f.records, r)
	}
	// A failure of a record the decision no longer asks to change is over.
	e.writer.clearErrors(id, asked)
	if len(f.records) == 0 {
		e.writer.drop(q)
		return nil, false
	}
	return f, true
}

// rereadUncertain reads again the records of writes whose answer was lost (see rereadRecords):
// what Salesforce applied shows as written, and an edit made meanwhile is seen (and reported)
// before anything is sent.
func (e *Engine) rereadUncertain(ctx context.Context) error {
	ids := e.writer.uncertainIDs()
	if len(ids) == 0 {
		return nil
	}
	if len(ids) > salesforce.CollectionsMax {
		ids = ids[:salesforce.CollectionsMax]
	}
	if err := e.rereadRecords(ctx, ids); err != nil {
		return fmt.Errorf("re-reading records whose write answer was lost: %w", err)
	}
	e.writer.reread(ids)
	return nil
}

// rereadRecords reads again, in one Composite call, license records (at most 200) with their value
// records and their whole field history, and patches the mirror. A record the read could not
// settle (a write answer was applied to it meanwhile, or a poll that overlapped brought a copy of
// the same second that differs) is read again at once, twice at most, and then left for the writer
// to read again before anything more is sent for it.
func (e *Engine) rereadRecords(ctx context.Context, ids []string) error {
	for attempt := 1; ; attempt++ {
		stale, err := e.rereadOnce(ctx, ids)
		if err != nil || len(stale) == 0 {
			return err
		}
		if attempt == 3 {
			e.writer.rereadLater(stale)
			return nil
		}
		ids = stale
	}
}

// rereadOnce is one call of rereadRecords; it returns the records the read could not settle.
func (e *Engine) rereadOnce(ctx context.Context, ids []string) ([]string, error) {
	quoted := make([]string, len(ids))
	for i, id := range ids {
		quoted[i] = salesforce.QuoteString(id)
	}
	in := "(" + strings.Join(quoted, ", ") + ")"
	var licenses []salesforce.License
	var values []typedValue
	var history []salesforce.HistoryRow
	b := salesforce.NewBatch()
	must(salesforce.AddQuery(b, e.licenseQuery()+" WHERE Id IN "+in, func(p []salesforce.License) error {
		licenses = append(licenses, p...)
		return nil
	}))
	if e.historyOn() {
		must(salesforce.AddQuery(b, "SELECT "+salesforce.HistoryFields+" FROM "+salesforce.LicenseHistoryObject+
			" WHERE ParentId IN "+in+" ORDER BY CreatedDate, Id", func(p []salesforce.HistoryRow) error {
			history = append(history, p...)
			return nil
		}))
	}
	e.mu.Lock()
	fma := e.fma
	e.mu.Unlock()
	if fma {
		for _, dt := range []string{salesforce.DataTypeBoolean, salesforce.DataTypeInteger, salesforce.DataTypeDate} {
			must(addValueQuery(b, dt, " WHERE sfFma__License__c IN "+in, &values, func(salesforce.DateTime) {}))
		}
	}
	gen := e.mirror.generation()
	if err := e.client.RunBatch(ctx, b); err != nil {
		return nil, err
	}
	changed, stale := e.mirror.applyRead(licenses, values, history, gen)
	e.notifyIDs(changed)
	return stale, nil
}

// rereadStale reads again, at once, the records a read did not take because a write answer was
// applied while it ran (see mirror.applyRead): the read's history rows of those records were left
// out with them, and the watermark moved past them.
func (e *Engine) rereadStale(ctx context.Context, ids []string) error {
	for len(ids) > 0 {
		n := min(len(ids), salesforce.CollectionsMax)
		if err := e.rereadRecords(ctx, ids[:n]); err != nil {
			return fmt.Errorf("re-reading records written while they were read: %w", err)
		}
		ids = ids[n:]
	}
	return nil
}
