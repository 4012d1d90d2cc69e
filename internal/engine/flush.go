package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/lmo-operator/lmo-operator/internal/salesforce"
)

// flight is one license's write being sent: the records built for it at flush time.
type flight struct {
	q       *queued
	records []*pendingRecord
	outcome flightOutcome
}

// flush re-reads the records of writes whose outcome is unknown, then decides again, for up to 200
// records of waiting writes, what may be written now, and sends that in one Collections call.
func (e *Engine) flush(ctx context.Context) (sent int, err error) {
	if err := e.rereadUncertain(ctx); err != nil {
		return 0, err
	}
	taken := e.writer.take(e.now(), salesforce.CollectionsMax)
	var flights []*flight
	var recs []*pendingRecord
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
	if len(recs) == 0 {
		return 0, nil
	}
	// Salesforce processes at most 10 chunks a call, a chunk being a run of consecutive records of
	// one type: grouping the records by type makes one chunk per type.
	order := slices.Clone(recs)
	slices.SortStableFunc(order, func(a, b *pendingRecord) int { return strings.Compare(a.sobject, b.sobject) })
	pos := make(map[*pendingRecord]int, len(order))
	updates := make([]salesforce.RecordUpdate, len(order))
	for i, r := range order {
		pos[r] = i
		updates[i] = salesforce.RecordUpdate{SObject: r.sobject, ID: r.recordID, Fields: r.fields}
	}
	results, callErr := e.client.Update(ctx, updates, false)
	now := e.now()
	var reports []WriteResult
	var stale []string
	for _, f := range flights {
		for _, r := range f.records {
			i := pos[r]
			res, answered := salesforce.SaveResult{}, i < len(results)
			if answered {
				res = results[i]
			}
			switch {
			case !answered && outcomeUnknown(callErr):
				// Salesforce may have applied it: re-read before anything is sent again.
				f.outcome = flightUnknown
			case !answered:
				f.outcome = max(f.outcome, flightRetry)
			case res.Success:
				if e.mirror.applyWrite(salesforce.RecordUpdate{SObject: r.sobject, ID: r.recordID, Fields: r.fields}, r.built) == "" {
					// A copy newer than the one the write was built from arrived meanwhile; it
					// may have been read before the write committed. Read the record again
					// before anything more is sent for it.
					stale = append(stale, r.licenseID)
				}
				e.writer.recorded(r, nil, now)
				reports = append(reports, WriteResult{LicenseID: r.licenseID, Changes: sortedChanges(r.changes)})
			default:
				werr := saveError(res)
				if !werr.Terminal && f.q.attempts < maxRecordAttempts {
					f.outcome = max(f.outcome, flightRetry)
					continue
				}
				e.writer.recorded(r, werr, now)
				reports = append(reports, WriteResult{LicenseID: r.licenseID, Changes: sortedChanges(r.changes), Err: werr})
			}
		}
		e.writer.finish(f.q, f.outcome, retryDelay(f.q.attempts), now)
	}
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
		w.LicenseID = id
		q.write = w
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
		asked[id15(r.recordID)] = true
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
