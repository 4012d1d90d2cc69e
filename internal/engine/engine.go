// Package engine runs one License Management Org: a mirror of its license records kept fresh with
// one incremental query per poll, a writer that batches field changes into sObject Collections
// calls, and an API budget fed by every response. It is the only code of the operator that talks to
// Salesforce; controllers read the mirror and queue writes through the LMO interface.
package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/lmo-operator/lmo-operator/internal/drift"
	"github.com/lmo-operator/lmo-operator/internal/salesforce"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/licstatus"
)

// LMO is what controllers see of one License Management Org. Every method answers from memory and
// never calls Salesforce: the engine keeps the mirror fresh and sends queued writes on its own.
// Licenses returned are copies. Submit is idempotent: submitting the same change twice queues it
// once, and a change the LMO refused is not sent again until it differs.
type LMO interface {
	// Status describes the connection, the org, the API budget and the mirror.
	Status() Status
	// Package returns the package record with the 033 id.
	Package(packageID string) (Package, bool)
	// FeatureParameters returns the feature parameters of a package, by full name.
	FeatureParameters(packageID string) map[string]FeatureParameter
	// License returns the record with the id (15 or 18 characters).
	License(id string) (License, bool)
	// SubscriberLicenses returns the records of a package installed in the subscriber org (matched
	// on the 15-character org id), ordered by id.
	SubscriberLicenses(packageID, subscriberOrgID string) []License
	// PackageLicenses returns every record of a package, ordered by id: the mirror's own records,
	// which it never changes once it holds them (a fleet's worth of copies on every package
	// reconcile was the manager's largest allocation). Read them, never change them.
	PackageLicenses(packageID string) []*License
	// Submit queues a write and returns the license's write state.
	Submit(w Write) (WriteState, error)
	// WriteState returns what became of the writes for a license.
	WriteState(licenseID string) WriteState
	// Summary counts the mirror's licenses for metrics; today is YYYY-MM-DD.
	Summary(today string) Summary
	// BeginReconcile notes that a License reconcile is under way until end is called: the writer
	// sends what a burst leaves once the reconciles have stopped, rather than waiting writeQuiet.
	BeginReconcile() (end func())
}

// Summary counts the mirror's licenses by package (033 id) and status, and the Trial licenses
// expiring within 7 and 30 days of today.
type Summary struct {
	ByStatus       map[[2]string]int
	TrialsExpiring map[[2]string]int
}

var _ LMO = (*Engine)(nil)

// Credentials authenticate to the LMO: exactly one is set.
type Credentials struct {
	JWTBearer         *salesforce.JWTBearer
	ClientCredentials *salesforce.ClientCredentials
}

// Config is everything an engine needs. Two configs with the same Hash run the same engine.
type Config struct {
	InstanceURL    string
	LoginURL       string
	APIVersion     string
	Credentials    Credentials
	PollInterval   time.Duration
	ResyncInterval time.Duration
	ReservePercent int
	// AllowNonProduction lets writes go to a Developer Edition, trial or sandbox org.
	AllowNonProduction bool
	// ExtraHosts are hosts besides Salesforce's own that InstanceURL and LoginURL may name.
	ExtraHosts []string

	// HTTPClient is the transport; nil uses the client's default.
	HTTPClient *http.Client `json:"-"`
	// The callbacks get the engine that calls them, so they never look it up (a lookup could wait
	// for a registry that is itself waiting for this engine). They may be called from any goroutine.

	// OnChange is called with the ids of licenses whose mirrored state changed.
	OnChange func(lmo LMO, licenseIDs []string) `json:"-"`
	// OnStatus is called when Status changed.
	OnStatus func(lmo LMO) `json:"-"`
	// OnWrite is called with the outcome of every record written or refused.
	OnWrite func(lmo LMO, results []WriteResult) `json:"-"`
	// Recheck decides, when a queued write is about to be sent, what may be written to the license
	// record now: it answers with the decision of the License's current spec and policy against the
	// mirror as it is (the write's fields that still differ are sent), or false to send nothing. A
	// write submitted before the License was paused, switched to Observe, reverted, deleted or
	// held is so withdrawn. Nil sends what was submitted.
	Recheck func(lmo LMO, licenseID string) (Write, bool) `json:"-"`
	// OnCall is called for every HTTP call to Salesforce (metrics).
	OnCall func(salesforce.CallInfo) `json:"-"`
	// OnSync is called after each mirror sync, kind "full" or "incremental".
	OnSync func(kind string, took time.Duration) `json:"-"`
	// Log receives the engine's logs.
	Log logr.Logger `json:"-"`
	// Now is the clock; nil is time.Now.
	Now func() time.Time `json:"-"`
}

// Hash identifies the settings and credentials of a config, so a changed spec or Secret restarts
// the engine. It is a digest: the credentials cannot be read back from it.
func (c Config) Hash() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s\x00%d\x00%t\x00%q\x00", c.InstanceURL, c.LoginURL, c.APIVersion,
		c.PollInterval, c.ResyncInterval, c.ReservePercent, c.AllowNonProduction, c.ExtraHosts)
	if j := c.Credentials.JWTBearer; j != nil {
		fmt.Fprintf(h, "jwt\x00%s\x00%s\x00%s\x00", j.ClientID, j.Username, j.Audience)
		h.Write(j.PrivateKeyPEM)
	}
	if cc := c.Credentials.ClientCredentials; cc != nil {
		fmt.Fprintf(h, "cc\x00%s\x00%s\x00", cc.ClientID, cc.ClientSecret)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Org is the LMO's Organization record.
type Org struct {
	ID, Name, Edition string
	IsSandbox         bool
	TrialExpiration   time.Time
}

// Production reports whether the org is permanent: not a sandbox, not a trial, not a Developer
// Edition.
func (o Org) Production() bool {
	return !o.IsSandbox && o.TrialExpiration.IsZero() && o.Edition != "Developer Edition"
}

// Status describes an engine.
type Status struct {
	// Connected is true while the engine holds a session.
	Connected bool
	// Error is the last failure to connect or read, as a sentence; empty when healthy.
	Error string
	// ErrorClass classifies Error: Auth, LimitExceeded, Retryable (unreachable), Validation, Terminal.
	ErrorClass salesforce.ErrorClass
	// ConcurrentLimit is true when Error is Salesforce's limit on concurrent long-running requests:
	// retried after a short backoff, unlike the daily limit.
	ConcurrentLimit bool
	// Org is set once the Organization record was read.
	Org *Org
	// LMAInstalled and FMAInstalled are nil until checked.
	LMAInstalled, FMAInstalled *bool
	// WritesBlocked explains why no write is sent (a non-production org); empty when writes may go.
	WritesBlocked string
	// AttributionUnavailable explains why drift is reported without who made the change (the
	// License's field history is not readable); empty when it is.
	AttributionUnavailable string
	// Usage is the org's daily API usage.
	Usage      salesforce.Usage
	UsageKnown bool
	Budget     BudgetState
	// Loaded is true once the first full load completed.
	Loaded              bool
	Licenses            int
	LastFullSync        time.Time
	LastIncrementalSync time.Time
	// PendingWrites is the number of records waiting to be written.
	PendingWrites int
}

// Engine runs one LMO. Start it with Run; it stops when the context ends.
type Engine struct {
	cfg    Config
	mirror *mirror
	writer *writer

	mu     sync.Mutex
	status Status
	client *salesforce.Client
	// limitHits counts consecutive REQUEST_LIMIT_EXCEEDED answers.
	limitHits int
	// fma is true once a full load found the Feature Management App installed.
	fma bool
	// history is true once a full load found the License's field history readable: polls and
	// re-reads then read it for attribution.
	history bool
	// licenseFields are the optional License fields the org has, as the last full load's describe
	// showed them; until then all are assumed (every LMA the sources show has them).
	licenseFields salesforce.LicenseFieldSet
	// watermark is how far the mirror is complete: the later of the newest SystemModstamp seen and
	// the server's clock when the last load or poll began (see seenUpTo). Polls re-read pollOverlap
	// before it.
	watermark time.Time
}

// New returns an engine for the config; Run starts it.
func New(cfg Config) *Engine {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Minute
	}
	if cfg.ResyncInterval <= 0 {
		cfg.ResyncInterval = 6 * time.Hour
	}
	return &Engine{cfg: cfg, mirror: newMirror(), writer: newWriter(), licenseFields: salesforce.AllLicenseFields}
}

// licenseQuery is the SELECT clause that reads license records in this org: an optional field its
// License object lacks (record types, License Type) would fail the whole query.
func (e *Engine) licenseQuery() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return "SELECT " + salesforce.LicenseFieldsFor(e.licenseFields) + " FROM " + salesforce.LicenseObject
}

func (e *Engine) now() time.Time { return e.cfg.Now() }

// Status implements LMO.
func (e *Engine) Status() Status {
	e.mu.Lock()
	s := e.status
	e.mu.Unlock()
	s.Loaded, s.Licenses = e.mirror.size()
	s.PendingWrites = e.writer.pendingCount()
	return s
}

func (e *Engine) updateStatus(f func(*Status)) {
	e.mu.Lock()
	before := e.status
	f(&e.status)
	changed := !statusEqual(before, e.status)
	e.mu.Unlock()
	if changed && e.cfg.OnStatus != nil {
		e.cfg.OnStatus(e)
	}
}

func statusEqual(a, b Status) bool {
	return a.Connected == b.Connected && a.Error == b.Error && a.ErrorClass == b.ErrorClass && a.ConcurrentLimit == b.ConcurrentLimit &&
		(a.Org == nil) == (b.Org == nil) && boolPtrEq(a.LMAInstalled, b.LMAInstalled) &&
		boolPtrEq(a.FMAInstalled, b.FMAInstalled) && a.WritesBlocked == b.WritesBlocked && a.AttributionUnavailable == b.AttributionUnavailable && a.Budget == b.Budget &&
		a.LastFullSync.Equal(b.LastFullSync) && a.LastIncrementalSync.Equal(b.LastIncrementalSync) && a.Usage == b.Usage
}

func boolPtrEq(a, b *bool) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// Package implements LMO.
func (e *Engine) Package(packageID string) (Package, bool) { return e.mirror.pkg(packageID) }

// FeatureParameters implements LMO.
func (e *Engine) FeatureParameters(packageID string) map[string]FeatureParameter {
	return e.mirror.featureParameters(packageID)
}

// License implements LMO.
func (e *Engine) License(id string) (License, bool) { return e.mirror.license(id) }

// SubscriberLicenses implements LMO.
func (e *Engine) SubscriberLicenses(packageID, subscriberOrgID string) []License {
	return e.mirror.subscriberLicenses(packageID, subscriberOrgID)
}

// PackageLicenses implements LMO.
func (e *Engine) PackageLicenses(packageID string) []*License {
	return e.mirror.packageLicenses(packageID)
}

// WriteState implements LMO.
func (e *Engine) WriteState(licenseID string) WriteState { return e.writer.stateOf(licenseID) }

// replaced is the last change of a license's field, which a write of the field replaces. The
// FieldWrite names the field: the change does not repeat it.
func replaced(l License, field string) FieldChange {
	c := l.Changes.Get(field)
	c.Field = ""
	return c
}

// BeginReconcile implements LMO.
func (e *Engine) BeginReconcile() (end func()) {
	e.writer.reconcileBegan()
	return func() { e.writer.reconcileEnded(e.now()) }
}

// ErrWritesBlocked is returned by Submit when the org refuses writes (a non-production LMO).
var ErrWritesBlocked = errors.New("writes to this LMO are blocked")

// Submit implements LMO. It refuses writes to an Uninstalled, unreadable or not editable record, to a
// non-production org, and feature parameters the package does not have or that are
// Subscriber-to-LMO. The write replaces any write of the same license still waiting; when it is
// sent, only the fields that still differ from the mirror go.
func (e *Engine) Submit(w Write) (WriteState, error) {
	if blocked := e.Status().WritesBlocked; blocked != "" {
		return e.writer.stateOf(w.LicenseID), fmt.Errorf("%w: %s", ErrWritesBlocked, blocked)
	}
	recs, err := e.records(w)
	if err != nil {
		return WriteState{}, err
	}
	refused := 0
	for _, r := range recs {
		if e.writer.isRefused(r.recordID, r.fields) {
			refused++
		}
	}
	if len(recs) == 0 || refused == len(recs) {
		// Nothing differs, or only what the LMO refused for good: the state says which.
		return e.writer.stateOf(w.LicenseID), nil
	}
	return e.writer.add(w), nil
}

// records builds the record updates of a write: the license record's fields and each feature
// parameter value record, each with only the fields that differ from the mirror.
func (e *Engine) records(w Write) ([]pendingRecord, error) {
	l, versions, ok := e.mirror.licenseForWrite(w.LicenseID)
	if !ok {
		return nil, fmt.Errorf("license %s is not in the mirror", w.LicenseID)
	}
	if err := neverWritten(l); err != nil {
		return nil, err
	}
	var recs []pendingRecord
	if lic := licenseUpdate(w, l, versions[l.ID]); len(lic.fields) > 0 {
		recs = append(recs, lic)
	}
	values, err := valueUpdates(w, l, versions)
	if err != nil {
		return nil, err
	}
	recs = append(recs, values...)
	// A value the engine itself wrote last replaces no one's change: its history row names the
	// integration user, and two spec changes in a row are not a person's edit put back.
	own := map[string]string{}
	for _, c := range e.writer.stateOf(l.ID).LastChanges {
		own[c.Field] = c.New
	}
	for _, r := range recs {
		for k, c := range r.changes {
			if v, ok := own[c.Field]; ok && v == c.Old {
				c.Replaces = FieldChange{}
				r.changes[k] = c
			}
		}
	}
	return recs, nil
}

// neverWritten says why a license is never written: it is unreadable, not editable, of a deleted
// subscriber org, or Uninstalled; nil when it may be.
func neverWritten(l License) error {
	switch {
	case l.Unreadable != "":
		return fmt.Errorf("license %s is never written: %s", l.ID, l.Unreadable)
	case l.NotEditable != "":
		return fmt.Errorf("license %s is never written: %s", l.ID, l.NotEditable)
	case l.SubscriberOrgGone != "":
		return fmt.Errorf("license %s is never written: %s", l.ID, l.SubscriberOrgGone)
	case l.Status == licstatus.Uninstalled:
		return fmt.Errorf("license %s is Uninstalled and is never written", l.ID)
	}
	return nil
}

// licenseUpdate is the update of the license record l, built from the copy built, with the
// write's fields that differ from it (none: nothing to send).
func licenseUpdate(w Write, l License, built copyVersion) pendingRecord {
	lic := pendingRecord{sobject: salesforce.LicenseObject, recordID: l.ID, licenseID: l.ID,
		fields: map[string]any{}, changes: map[string]FieldWrite{}, built: built}
	if w.Status != nil && *w.Status != l.Status {
		lic.fields[salesforce.FieldStatus] = *w.Status
		lic.changes[salesforce.FieldStatus] = FieldWrite{Field: "status", Old: l.Status, New: *w.Status,
			Replaces: replaced(l, salesforce.FieldStatus)}
	}
	if w.Seats != nil && drift.SeatsText(w.Seats) != drift.SeatsText(l.Seats) {
		lic.fields[salesforce.FieldSeats] = *w.Seats
		lic.changes[salesforce.FieldSeats] = FieldWrite{Field: "seats", Old: drift.SeatsText(l.Seats), New: drift.SeatsText(w.Seats),
			Replaces: replaced(l, salesforce.FieldSeats)}
	}
	if w.Expiration != nil && *w.Expiration != l.Expiration {
		if *w.Expiration == Never {
			// The LMA's convention for a license that does not expire.
			lic.fields[salesforce.FieldExpiration] = salesforce.NeverExpiresDate
		} else {
			lic.fields[salesforce.FieldExpiration] = *w.Expiration
		}
		lic.changes[salesforce.FieldExpiration] = FieldWrite{Field: "expiration", Old: l.Expiration, New: *w.Expiration,
			Replaces: replaced(l, salesforce.FieldExpiration)}
	}
	return lic
}

// valueUpdates are the updates of the write's feature parameter values that differ from the
// license's, in name order, each built from the copy in versions.
func valueUpdates(w Write, l License, versions map[string]copyVersion) ([]pendingRecord, error) {
	names := make([]string, 0, len(w.Params))
	for name := range w.Params {
		names = append(names, name)
	}
	sort.Strings(names)
	var recs []pendingRecord
	for _, name := range names {
		pv, ok := l.Params.Lookup(name)
		if !ok {
			return nil, fmt.Errorf("license %s has no value record for feature parameter %s", l.ID, name)
		}
		if pv.Direction != salesforce.DirectionToSubscriber {
			return nil, fmt.Errorf("feature parameter %s is %s and cannot be written", name, pv.Direction)
		}
		v, err := valueForWrite(pv.DataType, w.Params[name])
		if err != nil {
			return nil, fmt.Errorf("feature parameter %s: %w", name, err)
		}
		if writeValueText(v) == pv.Value {
			continue
		}
		recs = append(recs, pendingRecord{sobject: salesforce.ValueObjectFor(pv.DataType), recordID: pv.RecordID,
			licenseID: l.ID, fields: map[string]any{salesforce.FieldFeatureParameterValue: v}, built: versions[pv.RecordID],
			changes: map[string]FieldWrite{salesforce.FieldFeatureParameterValue: {Field: drift.ParamField(name), Old: pv.Value, New: w.Params[name],
				Replaces: FieldChange{By: pv.LastModifiedBy, Username: pv.LastModifiedByUsername, At: pv.LastModifiedAt}}}})
	}
	return recs, nil
}

func valueForWrite(dataType, text string) (any, error) {
	if text == "" {
		return nil, nil
	}
	switch dataType {
	case salesforce.DataTypeBoolean:
		return strconv.ParseBool(text)
	case salesforce.DataTypeInteger:
		return strconv.ParseInt(text, 10, 64)
	case salesforce.DataTypeDate:
		if _, err := time.Parse(time.DateOnly, text); err != nil {
			return nil, err
		}
		return text, nil
	}
	return nil, fmt.Errorf("unknown data type %q", dataType)
}

func (e *Engine) notifyIDs(ids []string) {
	if len(ids) > 0 && e.cfg.OnChange != nil {
		e.cfg.OnChange(e, ids)
	}
}

// Summary implements LMO.
func (e *Engine) Summary(today string) Summary {
	t, err := time.Parse(time.DateOnly, today)
	if err != nil {
		return Summary{}
	}
	in7, in30 := t.AddDate(0, 0, 7).Format(time.DateOnly), t.AddDate(0, 0, 30).Format(time.DateOnly)
	return e.mirror.summary(today, in7, in30)
}
