package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lmo-operator/lmo-operator/internal/salesforce"
)

// pollOverlap re-reads a few seconds before the watermark on every poll: changes that share the
// watermark's whole-second SystemModstamp, and a record committed late with an earlier stamp (up to
// pollOverlap less the second a stamp loses to truncation, 4 seconds), are still seen. Records that
// did not change are ignored.
const pollOverlap = 5 * time.Second

// Run connects, loads the mirror, and then polls and writes until ctx ends. After a failure it
// reconnects with backoff.
func (e *Engine) Run(ctx context.Context) {
	failures := 0
	for ctx.Err() == nil {
		loadedAt := e.Status().LastFullSync
		err := e.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if e.Status().LastFullSync.After(loadedAt) {
			// The session worked before it failed: start the backoff over.
			failures = 0
		}
		failures++
		delay := reconnectDelay(failures)
		class := salesforce.ClassOf(err)
		if class == salesforce.LimitExceeded {
			delay = e.limitExceeded("the operator waits", " before calling again")
		}
		e.cfg.Log.Info("LMO session ended; reconnecting", "error", err.Error(), "class", class.String(), "after", delay)
		concurrent := salesforce.IsConcurrentLimit(err)
		e.updateStatus(func(s *Status) {
			s.Connected, s.Error, s.ErrorClass, s.ConcurrentLimit = false, sentence(err), class, concurrent
		})
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}

// reconnectDelay is 2s doubling to 5 minutes.
func reconnectDelay(n int) time.Duration { return cappedDoubling(2*time.Second, 5*time.Minute, n-1) }

// sentence turns an error into a status message: a capital first letter, no trailing period.
func sentence(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	if s == "" {
		return s
	}
	b := []byte(s)
	if b[0] >= 'a' && b[0] <= 'z' {
		b[0] -= 'a' - 'A'
	}
	for len(b) > 0 && b[len(b)-1] == '.' {
		b = b[:len(b)-1]
	}
	return string(b)
}

// session runs one authenticated session: checks, full load, then the poll and write loops.
func (e *Engine) session(ctx context.Context) error {
	if err := e.connect(ctx); err != nil {
		return err
	}
	fma, err := e.fullLoad(ctx)
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.limitHits = 0
	e.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	writeErr := make(chan error, 1)
	writeDone := make(chan struct{})
	go func() {
		defer close(writeDone)
		writeErr <- e.writeLoop(ctx)
	}()
	// The session ends with its write loop: a call in flight finishes (or is abandoned) before the
	// next session, or the engine's end, so two write loops never run at once.
	defer func() {
		cancel()
		<-writeDone
	}()

	lastFull := e.now()
	for {
		delay := pollDelay(e.cfg.PollInterval, e.Status().Budget)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-writeErr:
			return err
		case <-time.After(delay):
		}
		if e.now().Sub(lastFull) >= e.cfg.ResyncInterval {
			if fma, err = e.fullLoad(ctx); err != nil {
				return err
			}
			lastFull = e.now()
			continue
		}
		if err := e.poll(ctx, fma); err != nil {
			return err
		}
	}
}

// connect authenticates and keeps the session's client.
func (e *Engine) connect(ctx context.Context) error {
	client, err := salesforce.New(ctx, salesforce.Config{
		InstanceURL: e.cfg.InstanceURL, LoginURL: e.cfg.LoginURL, APIVersion: e.cfg.APIVersion,
		JWTBearer: e.cfg.Credentials.JWTBearer, ClientCredentials: e.cfg.Credentials.ClientCredentials,
		HTTPClient: e.cfg.HTTPClient, OnCall: e.onCall, ExtraHosts: e.cfg.ExtraHosts,
	})
	if err != nil {
		return fmt.Errorf("authenticating: %w", err)
	}
	e.mu.Lock()
	e.client = client
	e.mu.Unlock()
	e.updateStatus(func(s *Status) { s.Connected, s.Error = true, "" })
	return nil
}

// onCall feeds the budget from every response and passes the call on for metrics.
func (e *Engine) onCall(ci salesforce.CallInfo) {
	if ci.Usage.Max > 0 {
		e.updateStatus(func(s *Status) {
			s.Usage, s.UsageKnown = ci.Usage, true
			b := budgetFor(ci.Usage, true, e.cfg.ReservePercent)
			b.LimitExceededUntil = s.Budget.LimitExceededUntil
			if b.Message == "" && e.now().Before(b.LimitExceededUntil) {
				b.Message = s.Budget.Message
			}
			s.Budget = b
		})
	}
	if e.cfg.OnCall != nil {
		e.cfg.OnCall(ci)
	}
}

var errLMANotInstalled = errors.New("the License Management App is not installed in this org (sfLma__License__c does not exist)")

func orgKind(o Org) string {
	switch {
	case o.IsSandbox:
		return "sandbox"
	case !o.TrialExpiration.IsZero():
		return "trial org"
	}
	return o.Edition
}

// fullLoad checks the org and reads every package, feature parameter, license and value record,
// then swaps them into the mirror. The checks ride in the first Composite call with the LMA's
// queries (Organization, and describes that tell whether the LMA and FMA are installed); the FMA's
// queries go in a second one. It returns whether the FMA is installed.
func (e *Engine) fullLoad(ctx context.Context) (bool, error) {
	start := e.now()
	defer func() { e.synced("full", start) }()
	var snap snapshot
	var c loadChecks
	var newestLicense time.Time
	b := e.loadBatch(&snap, &c, &newestLicense)
	snap.readGen = e.mirror.generation()
	batchErr := e.client.RunBatch(ctx, b)
	fma, err := e.checkApps(&c, batchErr)
	if err != nil {
		return false, err
	}
	if fields := salesforce.LicenseFieldSetOf(c.licenseDescribe); fields != e.licenseFieldSet() {
		// The License object lacks an optional field the query selected (so the query failed), or
		// has one it left out: read again with the fields the describe shows. The describe rode in
		// the same call, so this costs a second call only when the org differs from the last load.
		e.mu.Lock()
		e.licenseFields = fields
		e.mu.Unlock()
		e.cfg.Log.Info("Reading licenses with the License object's optional fields", "recordTypes", fields.RecordType, "licenseType", fields.LicenseType,
			"account", fields.Account, "lead", fields.Lead, "orgStatus", fields.OrgStatus, "orgTrialExpiration", fields.OrgTrialExpiration)
		return e.fullLoad(ctx)
	}
	if batchErr != nil {
		return false, fmt.Errorf("loading the LMO's records: %w", batchErr)
	}
	if len(c.org) != 1 {
		return false, fmt.Errorf("reading the Organization record: %d records", len(c.org))
	}
	mark := seenUpTo(b, newestLicense)
	history, err := e.checkHistory(&c)
	if err != nil {
		return false, err
	}
	if mark, err = e.loadValuesAndHistory(ctx, &snap, fma, history, mark); err != nil {
		return false, err
	}
	return fma, e.swapIn(ctx, snap, fma, history, mark)
}

// loadChecks are the answers of the first call of a full load that check the org: the
// Organization record and the describes. The describes answer only when the Composite call as a
// whole succeeded: until then whether the apps are installed is unknown.
type loadChecks struct {
	org                                    []salesforce.Organization
	lmaErr, fmaErr, historyErr             error
	lmaChecked, fmaChecked, historyChecked bool
	licenseDescribe                        salesforce.SObjectDescribe
}

// loadBatch is the first call of a full load: the checks (into c) and the LMA's packages and
// licenses (into snap; newestLicense is the newest license's SystemModstamp).
func (e *Engine) loadBatch(snap *snapshot, c *loadChecks, newestLicense *time.Time) *salesforce.Batch {
	b := salesforce.NewBatch()
	// sfLma__License__History exists only while field history tracking is on: its describe says
	// whether to read it (in the second call), so an org without it still loads.
	must(salesforce.AddDescribe(b, salesforce.LicenseHistoryObject, func(_ salesforce.SObjectDescribe, err error) { c.historyErr, c.historyChecked = err, true }))
	must(salesforce.AddDescribe(b, salesforce.LicenseObject, func(d salesforce.SObjectDescribe, err error) {
		c.licenseDescribe, c.lmaErr, c.lmaChecked = d, err, true
	}))
	must(salesforce.AddDescribe(b, salesforce.FeatureParameterObject, func(_ salesforce.SObjectDescribe, err error) { c.fmaErr, c.fmaChecked = err, true }))
	must(salesforce.AddQuery(b, "SELECT "+salesforce.OrganizationFields+" FROM Organization", func(p []salesforce.Organization) error {
		c.org = append(c.org, p...)
		return nil
	}))
	must(salesforce.AddQuery(b, "SELECT "+salesforce.PackageFields+" FROM "+salesforce.PackageObject, func(p []salesforce.Package) error {
		snap.packages = append(snap.packages, p...)
		return nil
	}))
	must(salesforce.AddQuery(b, e.licenseQuery(), func(p []salesforce.License) error {
		for _, l := range p {
			if l.SystemModstamp.After(*newestLicense) {
				*newestLicense = l.SystemModstamp.Time
			}
		}
		snap.licenses = append(snap.licenses, p...)
		return nil
	}))
	return b
}

// checkApps reads the first call's checks into the status (the org, whether writes are blocked,
// which apps are installed) and returns whether the FMA is installed; an error when the checks did
// not answer or the LMA is not installed.
func (e *Engine) checkApps(c *loadChecks, batchErr error) (fma bool, err error) {
	if !c.lmaChecked || !c.fmaChecked {
		return false, fmt.Errorf("loading the LMO's records: %w", batchErr)
	}
	lma := c.lmaErr == nil
	fma = c.fmaErr == nil
	for _, derr := range []error{c.lmaErr, c.fmaErr} {
		if derr != nil && !salesforce.IsNotFound(derr) {
			return false, fmt.Errorf("checking the installed apps: %w", derr)
		}
	}
	if len(c.org) == 1 {
		o := &Org{ID: c.org[0].ID, Name: c.org[0].Name, Edition: c.org[0].OrganizationType, IsSandbox: c.org[0].IsSandbox,
			TrialExpiration: c.org[0].TrialExpirationDate.Time}
		blocked := ""
		if !o.Production() && !e.cfg.AllowNonProduction {
			blocked = fmt.Sprintf("The LMO %q is a %s; a Developer Edition, trial or sandbox org expires and takes the license history with it. Writes are refused unless spec.allowNonProductionOrg is true", o.Name, orgKind(*o))
		}
		e.updateStatus(func(s *Status) { s.Org, s.WritesBlocked = o, blocked })
	}
	e.updateStatus(func(s *Status) { s.LMAInstalled, s.FMAInstalled = &lma, &fma })
	if !lma {
		return false, errLMANotInstalled
	}
	return fma, nil
}

// checkHistory reports whether the License's field history is readable, and says in the status
// when it is not.
func (e *Engine) checkHistory(c *loadChecks) (bool, error) {
	history := c.historyChecked && c.historyErr == nil
	if c.historyChecked && c.historyErr != nil && !salesforce.IsNotFound(c.historyErr) {
		return false, fmt.Errorf("checking the License's field history: %w", c.historyErr)
	}
	unavailable := ""
	if !history {
		unavailable = "Field history tracking is off for the License object (" + salesforce.LicenseHistoryObject +
			" does not exist): drift is reported without who made the change; turn tracking on for Status, Seats and Expiration"
	}
	e.updateStatus(func(s *Status) { s.AttributionUnavailable = unavailable })
	return history, nil
}

// loadValuesAndHistory is the second call of a full load, when the FMA is installed or the field
// history readable: the feature parameters and their values, and the history of the licenses'
// terms, into snap. It returns the watermark mark, moved back to what the value queries justify.
func (e *Engine) loadValuesAndHistory(ctx context.Context, snap *snapshot, fma, history bool, mark time.Time) (time.Time, error) {
	if !fma && !history {
		return mark, nil
	}
	var newestValue time.Time
	seenValue := func(t salesforce.DateTime) {
		if t.After(newestValue) {
			newestValue = t.Time
		}
	}
	b := salesforce.NewBatch()
	if history {
		// Who changed each term last attributes drift after a load, when no poll saw the
		// change; a change replaced since the last read shows only here.
		must(salesforce.AddQuery(b, "SELECT Id, ParentId, Field, NewValue, CreatedById, CreatedBy.Name, CreatedBy.Username, CreatedDate FROM "+salesforce.LicenseHistoryObject+
			" WHERE Field IN ("+termFields+") ORDER BY CreatedDate, Id",
			func(p []salesforce.HistoryRow) error {
				snap.touched = append(snap.touched, p...)
				return nil
			}))
	}
	if fma {
		must(salesforce.AddQuery(b, "SELECT "+salesforce.FeatureParameterFields+" FROM "+salesforce.FeatureParameterObject, func(p []salesforce.FeatureParameter) error {
			snap.params = append(snap.params, p...)
			return nil
		}))
		for _, dt := range []string{salesforce.DataTypeBoolean, salesforce.DataTypeInteger, salesforce.DataTypeDate} {
			must(addValueQuery(b, dt, "", &snap.values, seenValue))
		}
	}
	if err := e.client.RunBatch(ctx, b); err != nil {
		return mark, fmt.Errorf("loading the LMO's feature parameters and field history: %w", err)
	}
	// The licenses and the values were read at different moments: the mirror is complete up
	// to the earlier of the two.
	if m := seenUpTo(b, newestValue); fma && m.Before(mark) {
		mark = m
	}
	return mark, nil
}

// swapIn swaps a full load into the mirror, moves the watermark to mark, and reads again at once
// the records the load did not take (see mirror.replaceRead).
func (e *Engine) swapIn(ctx context.Context, snap snapshot, fma, history bool, mark time.Time) error {
	changed, stale := e.mirror.replaceRead(snap)
	e.mu.Lock()
	e.fma, e.history = fma, history
	e.mu.Unlock()
	now := e.now()
	e.advanceWatermark(mark)
	e.updateStatus(func(s *Status) { s.LastFullSync, s.LastIncrementalSync, s.Error = now, now, "" })
	e.cfg.Log.V(1).Info("Loaded the LMO", "licenses", len(snap.licenses), "changed", len(changed))
	e.notifyIDs(changed)
	return e.rereadStale(ctx, stale)
}

// seenUpTo is the watermark a batch's queries justify: the later of the newest SystemModstamp they
// returned and the server's clock when they began. Every record stamped more than pollOverlap
// before either was committed before the queries ran, so they saw it. Without the server's clock
// (no Date header) only the newest stamp counts; then, after a quiet spell, each poll re-reads the
// last changes before it.
func seenUpTo(b *salesforce.Batch, newest time.Time) time.Time {
	if t, ok := b.ServerTime(); ok && t.After(newest) {
		return t
	}
	return newest
}

// advanceWatermark moves the watermark forward to mark; it never moves back.
func (e *Engine) advanceWatermark(mark time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if mark.After(e.watermark) {
		e.watermark = mark
	}
}

func addValueQuery(b *salesforce.Batch, dataType, where string, out *[]typedValue, seen func(salesforce.DateTime)) error {
	q := "SELECT " + salesforce.FeatureParameterValueFields + " FROM " + salesforce.ValueObjectFor(dataType) + where
	return salesforce.AddQuery(b, q, func(p []salesforce.FeatureParameterValue) error {
		for _, v := range p {
			seen(v.SystemModstamp)
			*out = append(*out, typedValue{dataType: dataType, FeatureParameterValue: v})
		}
		return nil
	})
}

// must panics on a programming error: a batch built here never holds more than five queries.
func must(err error) {
	if err != nil {
		panic(err)
	}
}

// poll reads, in one Composite call, the licenses, value records and history rows changed since
// the watermark, and patches the mirror.
func (e *Engine) poll(ctx context.Context, fma bool) error {
	start := e.now()
	defer func() { e.synced("incremental", start) }()
	e.mu.Lock()
	since := e.watermark.Add(-pollOverlap)
	e.mu.Unlock()
	newest := since
	seen := func(t salesforce.DateTime) {
		if t.After(newest) {
			newest = t.Time
		}
	}
	where := " WHERE SystemModstamp > " + salesforce.SOQLDateTime(since)
	var licenses []salesforce.License
	var values []typedValue
	var history []salesforce.HistoryRow
	b := salesforce.NewBatch()
	must(salesforce.AddQuery(b, e.licenseQuery()+where, func(p []salesforce.License) error {
		for _, l := range p {
			seen(l.SystemModstamp)
		}
		licenses = append(licenses, p...)
		return nil
	}))
	if e.historyOn() {
		must(salesforce.AddQuery(b, "SELECT "+salesforce.HistoryFields+" FROM "+salesforce.LicenseHistoryObject+
			" WHERE CreatedDate > "+salesforce.SOQLDateTime(since)+" ORDER BY CreatedDate, Id", func(p []salesforce.HistoryRow) error {
			history = append(history, p...)
			return nil
		}))
	}
	if fma {
		for _, dt := range []string{salesforce.DataTypeBoolean, salesforce.DataTypeInteger, salesforce.DataTypeDate} {
			must(addValueQuery(b, dt, where, &values, seen))
		}
	}
	gen := e.mirror.generation()
	if err := e.client.RunBatch(ctx, b); err != nil {
		return fmt.Errorf("polling the LMO for changes: %w", err)
	}
	changed, stale := e.mirror.applyRead(licenses, values, history, gen)
	e.advanceWatermark(seenUpTo(b, newest))
	now := e.now()
	e.updateStatus(func(s *Status) { s.LastIncrementalSync, s.Error = now, "" })
	e.notifyIDs(changed)
	return e.rereadStale(ctx, stale)
}

// writeQuiet is how long the writer waits for more changes before sending a batch of fewer than
// 200 records, and writeMaxDelay the longest a change waits for its batch to fill: a burst of
// reconciles (kubectl apply of a directory) fills whole Collections calls. A change that is alone
// (the only one since the writer was last idle) is sent by itself after writeQuietAlone: one License
// edited in git reaches the LMO in about a second, while the second change of a burst comes within
// milliseconds of the first. What a burst leaves after a full batch is not alone: it waits for the
// rest of the burst.
const (
	writeQuiet      = 5 * time.Second
	writeQuietAlone = time.Second
	writeMaxDelay   = 30 * time.Second
)

// fillWait is how much longer, from now, the writer waits for the batch of ready writes to fill
// before sending it; 0 when the batch is due. seen is the most writes that were ready at once since
// the writer was last idle, lastAdd and firstAdd when the latest and the first change of the batch
// were queued, idleSince when the last License reconcile ended (zero while one runs, or when none
// has told the engine). A burst's reconciles come one after another; once none has run for
// writeQuietAlone, nothing more of the burst is coming, and its tail need not wait writeQuiet.
func fillWait(ready, seen int, lastAdd, firstAdd, idleSince, now time.Time) time.Duration {
	if ready >= salesforce.CollectionsMax {
		return 0
	}
	quiet := writeQuiet
	if ready == 1 && seen <= 1 {
		quiet = writeQuietAlone
	}
	due := lastAdd.Add(quiet)
	if !idleSince.IsZero() {
		// No reconcile runs that could queue more: the burst is over.
		due = minTime(due, maxTime(lastAdd, idleSince).Add(writeQuietAlone))
	}
	return max(0, min(due.Sub(now), firstAdd.Add(writeMaxDelay).Sub(now)))
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// batchWindow is the batch the writer is filling: when its first and latest changes were queued,
// whether nothing waits (idle: the next change starts a new window), and the most writes that were
// ready at once since the writer was last idle (see fillWait).
type batchWindow struct {
	firstAdd, lastAdd time.Time
	idle              bool
	seen              int
}

// added notes a change queued at now.
func (b *batchWindow) added(now time.Time) {
	if b.idle {
		b.firstAdd, b.idle = now, false
	}
	b.lastAdd = now
}

// writeLoop sends queued writes while the budget and the org allow it.
func (e *Engine) writeLoop(ctx context.Context) error {
	// Changes may have been queued before the loop started (the wake signal is already waiting).
	now := e.now()
	win := batchWindow{firstAdd: now, lastAdd: now}
	for {
		wait := e.writeWait(&win)
		if wait > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-e.writer.woken():
				win.added(e.now())
			case <-time.After(wait):
			}
			continue
		}
		// The batch is due. A change queued meanwhile is in the queue, so this batch takes it; its
		// wake signal is read on the next turn. Letting it extend the window instead would put the
		// batch off for as long as changes keep coming (a cold start's reconciles), past
		// writeMaxDelay.
		if ctx.Err() != nil {
			return nil
		}
		_, err := e.flush(ctx)
		// What is still pending waits for its own batch to fill.
		win.firstAdd = e.now()
		if err := e.writeFailed(err); err != nil {
			return err
		}
	}
}

// writeWait is how long the writer waits before it sends the next batch: 0 when it is due. It
// updates the batch window with what is ready now.
func (e *Engine) writeWait(win *batchWindow) time.Duration {
	held := e.writesHeld()
	wait := time.Hour
	if next, ok := e.writer.nextReady(); !ok {
		win.idle, win.seen = true, 0
	} else {
		now := e.now()
		ready := e.writer.readyCount(now)
		win.seen = max(win.seen, ready)
		idle := e.writer.reconcilesIdleSince()
		wait = max(next.Sub(now), fillWait(ready, win.seen, win.lastAdd, win.firstAdd, idle, now))
		if idle.IsZero() && ready > 0 {
			// Looked at again when the reconciles may have ended.
			wait = min(wait, writeQuietAlone)
		}
	}
	if held {
		// Looked at again in a while: the budget, the limit's backoff or the org may change.
		return 5 * time.Second
	}
	return wait
}

// writeFailed handles a failed batch: the daily limit holds writes back, an expired session ends
// the loop (and the session), anything else is retried with the records' backoff.
func (e *Engine) writeFailed(err error) error {
	switch {
	case err == nil:
	case salesforce.IsLimitExceeded(err):
		e.limitExceeded("writes wait", "")
	case salesforce.IsAuth(err):
		return fmt.Errorf("writing: %w", err)
	default:
		e.cfg.Log.Info("Write batch failed; retrying with backoff", "error", err.Error())
	}
	return nil
}

// writesHeld reports whether writes must wait: the budget is low, the daily limit is spent, or the
// org refuses writes.
func (e *Engine) writesHeld() bool {
	st := e.Status()
	return st.Budget.Low || e.now().Before(st.Budget.LimitExceededUntil) || st.WritesBlocked != ""
}

func (e *Engine) synced(kind string, start time.Time) {
	if e.cfg.OnSync != nil {
		e.cfg.OnSync(kind, e.now().Sub(start))
	}
}

// limitExceeded holds every call back after Salesforce answered REQUEST_LIMIT_EXCEEDED, for a
// backoff that grows with each consecutive answer, and says so in the budget's message (who waits
// and what for). It returns the backoff.
func (e *Engine) limitExceeded(who, until string) time.Duration {
	d := limitBackoff(e.limitHit())
	e.updateStatus(func(s *Status) {
		s.Budget.LimitExceededUntil = e.now().Add(d)
		s.Budget.Message = "Salesforce answers REQUEST_LIMIT_EXCEEDED: the org's daily API limit is spent; " + who + " " + d.String() + until
	})
	return d
}

// limitHit counts one more consecutive REQUEST_LIMIT_EXCEEDED and returns the count.
func (e *Engine) limitHit() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.limitHits++
	return e.limitHits
}

// licenseFieldSet is the optional License fields the org has, as the last full load found them.
func (e *Engine) licenseFieldSet() salesforce.LicenseFieldSet {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.licenseFields
}

// historyOn reports whether the License's field history is readable (as the last full load found).
func (e *Engine) historyOn() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.history
}
