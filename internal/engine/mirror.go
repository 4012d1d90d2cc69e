package engine

import (
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lmo-operator/lmo-operator/internal/drift"
	"github.com/lmo-operator/lmo-operator/internal/salesforce"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/licstatus"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/sfid"
)

// License is the mirror's copy of one sfLma__License__c record and its feature parameter values.
// Values are copies: callers may keep them.
type License struct {
	ID              string
	Name            string
	PackageID       string
	SubscriberOrgID string
	// Status is Trial, Active, Suspended or Uninstalled.
	Status string
	// Seats is nil when the record has none, -1 for a site license.
	Seats *int64
	// Expiration is YYYY-MM-DD, or Never for an empty field or 1970-01-01.
	Expiration     string
	UsedLicenses   *int64
	InstallDate    string
	Edition        string
	IsSandbox      bool
	VersionNumber  string
	LastModifiedBy string
	// LastModifiedByUsername is the username of LastModifiedBy.
	LastModifiedByUsername string
	LastModifiedAt         time.Time
	// SystemModstamp is the record's last change as Salesforce stamped it.
	SystemModstamp time.Time
	// Params are the record's feature parameter values, one per full name.
	Params ParamValues
	// Changes are the latest field history rows, one per field API name, for drift attribution.
	Changes FieldChanges
	// Unreadable is non-empty when the record holds a value the operator cannot read (a status
	// outside the four it knows, fractional seats): it names the field and the value. Such a record
	// is kept in the mirror so everything else keeps working, and is never written.
	Unreadable string
	// RecordType is the record's record type name (RecordType.Name), the status the LMA page shows;
	// "" when the record has none or the org's License object has no record types.
	RecordType string
	// NotEditable is non-empty when the record's License Type marks it as one the LMA does not let
	// anyone modify (a license AppExchange Checkout provisioned): it says why and who manages it. Such
	// a record is never written.
	NotEditable string
	// Customer is the customer's name: the account's, else the lead's company ("" when neither).
	Customer string
	// OrgStatus is the subscriber org's status as the LMA keeps it (sfLma__Org_Status__c, e.g.
	// ACTIVE, TRIAL, FREE, DELETED); "" when unknown or the LMA lacks the field.
	OrgStatus string
	// OrgTrialExpiration is the day a trial subscriber org expires, YYYY-MM-DD, or "".
	OrgTrialExpiration string
	// SubscriberOrgGone is non-empty when the subscriber org is deleted or pending deletion: it says
	// so, naming the field and the value. Such a record is never written.
	SubscriberOrgGone string
	// TermsChanged is true when the LMO's field history shows the status, seats or expiration
	// changed after the install, by anyone (a person, or an earlier write of the operator).
	TermsChanged bool
	// Superseded are changes of the license's fields that another user's change replaced before
	// the engine read the record, oldest first (the last maxSuperseded): the field history shows
	// them afterwards. A person's edit that crossed one of the operator's writes in flight is one:
	// nothing else ever shows it.
	Superseded []SupersededChange
}

// SupersededChange is a change of a license field that a later change by another user replaced
// before the engine read it.
type SupersededChange struct {
	// Field is the field's API name.
	Field string
	// Value is the value the change set, as text (drift's forms: a status, seats or SiteLicense,
	// YYYY-MM-DD or Never).
	Value string
	By    string
	At    time.Time
	// ReplacedBy is who replaced it.
	ReplacedBy string
}

// maxSuperseded is how many superseded changes a license keeps.
const maxSuperseded = 10

// ParamValues are a license's feature parameter values, ordered by name, one per name. A slice, not
// a map: a Go map holds at least eight slots, about 1.3 KiB for one value, and a license usually has
// one or a few values (the mirror holds one such set per license in the fleet).
type ParamValues []ParamValue

// NewParamValues orders values by name; of two with one name, the later is kept.
func NewParamValues(values ...ParamValue) ParamValues { return keyedFrom[ParamValues](values) }

// Lookup returns the value of the parameter named name.
func (p ParamValues) Lookup(name string) (ParamValue, bool) { return keyedLookup(p, name) }

// Get returns the value of the parameter named name, or the zero ParamValue.
func (p ParamValues) Get(name string) ParamValue {
	v, _ := p.Lookup(name)
	return v
}

// with returns the values with v set (by v.Name), as a new slice: the mirror never changes a slice a
// License holds in place (see copyLicense).
func (p ParamValues) with(v ParamValue) ParamValues { return keyedWith(p, v) }

func (v ParamValue) key() string { return v.Name }

// keyed is an element of a slice ordered by a string key, one element per key: ParamValues and
// FieldChanges.
type keyed interface{ key() string }

func keyedSearch[E keyed](s []E, k string) (int, bool) {
	return slices.BinarySearchFunc(s, k, func(e E, k string) int { return strings.Compare(e.key(), k) })
}

func keyedLookup[E keyed](s []E, k string) (E, bool) {
	i, ok := keyedSearch(s, k)
	if !ok {
		var zero E
		return zero, false
	}
	return s[i], true
}

// keyedWith returns a new slice: s with e set (by its key).
func keyedWith[S ~[]E, E keyed](s S, e E) S {
	i, found := keyedSearch(s, e.key())
	next := make(S, 0, len(s)+1)
	next = append(next, s[:i]...)
	next = append(next, e)
	if found {
		i++
	}
	return append(next, s[i:]...)
}

func keyedFrom[S ~[]E, E keyed](elems []E) S {
	var out S
	for _, e := range elems {
		out = keyedWith(out, e)
	}
	return out
}

// ParamValue is one feature parameter value of a license.
type ParamValue struct {
	// Name is the feature parameter's full name.
	Name string
	// RecordID is the value record's id (sfFma__FeatureParameterXxx__c).
	RecordID string
	// DataType is Boolean, Integer or Date.
	DataType string
	// Direction is "LMO to Subscriber" or "Subscriber to LMO".
	Direction string
	// Value is the value as text: true/false, an integer, YYYY-MM-DD, or "" when empty.
	Value          string
	LastModifiedBy string
	// LastModifiedByUsername is the username of LastModifiedBy.
	LastModifiedByUsername string
	LastModifiedAt         time.Time
	SystemModstamp         time.Time
}

// FieldChanges are who last changed each field of a license, ordered by field, one per field (a
// slice for the reason ParamValues is one).
type FieldChanges []FieldChange

// NewFieldChanges orders changes by field; of two of one field, the later is kept.
func NewFieldChanges(changes ...FieldChange) FieldChanges { return keyedFrom[FieldChanges](changes) }

// Lookup returns the change of the field named by its API name.
func (c FieldChanges) Lookup(field string) (FieldChange, bool) { return keyedLookup(c, field) }

// Get returns the change of the field named by its API name, or the zero FieldChange.
func (c FieldChanges) Get(field string) FieldChange {
	v, _ := c.Lookup(field)
	return v
}

// with returns the changes with ch set (by ch.Field), as a new slice.
func (c FieldChanges) with(ch FieldChange) FieldChanges { return keyedWith(c, ch) }

func (c FieldChange) key() string { return c.Field }

// FieldChange is who last changed a field of a license, and when.
type FieldChange struct {
	// Field is the field's API name.
	Field string `json:"-"`
	// By is the user's name; Username their username, which, unlike a name, is unique.
	By       string
	Username string
	At       time.Time
}

// changeOf is who made a history row's change, and when.
func changeOf(h salesforce.HistoryRow) FieldChange {
	return FieldChange{Field: h.Field, By: h.ChangedBy(), Username: h.ChangedByUsername(), At: h.CreatedDate.Time}
}

// Package is the mirror's copy of an sfLma__Package__c record.
type Package struct {
	RecordID      string
	PackageID     string
	Name          string
	LatestVersion string
}

// FeatureParameter is a feature parameter definition of a package.
type FeatureParameter struct {
	RecordID  string
	PackageID string
	FullName  string
	DataType  string
	Direction string
}

// Writable reports whether the operator may set the parameter's values (LMO to Subscriber).
func (p FeatureParameter) Writable() bool { return p.Direction == salesforce.DirectionToSubscriber }

// mirror is the engine's in-memory copy of the LMO's packages, feature parameters and licenses. It
// is replaced wholesale by a full load and patched by incremental polls and successful writes.
type mirror struct {
	mu sync.RWMutex
	// building is true while a full load fills this new mirror, before anyone else sees it: its
	// licenses may be changed in place.
	building bool
	// loaded is true once the first full load completed.
	loaded   bool
	packages map[string]Package // by 15-character 033 package id
	// packageIDs maps a Package record id to its 033 id.
	packageIDs map[string]string
	params     map[string]FeatureParameter // by record id
	licenses   map[string]*License         // by 15-character license id
	// bySubscriber indexes license ids by the 15-character package and subscriber org ids.
	bySubscriber map[subscriberKey][]string
	// values maps a value record id to its license and parameter record ids.
	values map[string]valueRef
	// seq counts the reads and write answers applied to the mirror: a read notes it when it
	// begins (its generation), and each applied read or write answer takes the next number.
	// written holds, by record (a license or a value record), the number of the last write answer
	// applied to it. A read that began before then may carry a copy of the record older than the
	// write: it must not replace the written values (see applyRead).
	seq     uint64
	written map[string]uint64
	// copies says, by record, when the mirror took the copy it holds and when a read last
	// confirmed it (see copyMark).
	copies map[string]copyMark
	// lastRows are, by license and field, the history rows of the latest second the mirror has
	// seen rows of. CreatedDate has whole seconds: a row of that second is new to the mirror unless
	// its id is here (see seenRow).
	lastRows map[string]map[string]rowsOfSecond
}

// rowsOfSecond are the ids of the history rows of one field created within one second.
type rowsOfSecond struct {
	at  time.Time
	ids []string
}

// copyMark dates the copy of a record the mirror holds in the mirror's sequence (mirror.seq).
//
// Salesforce stamps SystemModstamp in whole seconds, so two copies of a record with the same stamp
// may differ (a later change within the same second), and a transaction that commits late carries
// the stamp of when it began: stamps alone do not say which of two copies is newer. The reads that
// brought them do. A read that began after the held copy was brought (or a write answer applied)
// was served after it, so its copy shows the record at least as late: it is taken, whatever its
// stamp. A copy from a read that began earlier, and so may have been served before the held one,
// is ordered by its stamp where the stamps differ; where they are equal it is ignored when it equals
// the held copy and otherwise makes the mirror read the record again.
type copyMark struct {
	// taken is when the held content was taken: a copy that differed from the one before, or a
	// write answer applied.
	taken uint64
	// seen is when a read last brought the held content (or a write answer set it).
	seen uint64
}

// copyVersion identifies the copy of a record a write was built from: a write answer is applied
// only over that very copy (see applyWrite).
type copyVersion struct {
	stamp time.Time
	taken uint64
}

// freshness is how a copy a read brought stands to the copy the mirror holds.
type freshness int

const (
	// newer: the copy is at least as new as the held one; take it.
	newer freshness = iota
	// older: the copy predates the held one; ignore it.
	older
	// unsure: either may be the newer one; if they differ, the record must be read again.
	unsure
)

// freshness compares a copy of a record stamped stamp, brought by a read that began at generation
// readGen, with the held copy, stamped held (see copyMark). A read that began after the held copy
// was last seen brings a copy at least as new, whatever its stamp. Between reads that overlapped,
// the stamps decide where they differ (a record's stamps never go back while its row is locked by
// the transaction that stamps it), and nothing decides where they are equal. Callers hold the lock.
func (m *mirror) freshness(id string, held, stamp time.Time, readGen uint64) freshness {
	switch {
	case readGen >= m.copies[sfid.Key15(id)].seen || held.IsZero() || stamp.After(held):
		return newer
	case stamp.Before(held):
		return older
	}
	return unsure
}

// mark records that the held copy of a record was brought or confirmed by the read (or write
// answer) numbered at; changed says its content differs from the copy held before.
func (m *mirror) mark(id string, at uint64, changed bool) {
	c := m.copies[sfid.Key15(id)]
	if changed || c.taken == 0 {
		c.taken = at
	}
	c.seen = at
	m.copies[sfid.Key15(id)] = c
}

// versionOf is the version of the held copy of a record stamped stamp. Callers hold the lock.
func (m *mirror) versionOf(id string, stamp time.Time) copyVersion {
	return copyVersion{stamp: stamp, taken: m.copies[sfid.Key15(id)].taken}
}

// subscriberKey indexes licenses by the 15-character ids of their package and subscriber org.
type subscriberKey struct{ package15, org15 string }

func subscriberKeyOf(l *License) subscriberKey {
	return subscriberKey{sfid.Key15(l.PackageID), sfid.Key15(l.SubscriberOrgID)}
}

type valueRef struct{ licenseID, paramID string }

func newMirror() *mirror {
	return &mirror{
		packages: map[string]Package{}, packageIDs: map[string]string{}, params: map[string]FeatureParameter{},
		licenses: map[string]*License{}, bySubscriber: map[subscriberKey][]string{}, values: map[string]valueRef{},
		written: map[string]uint64{}, copies: map[string]copyMark{}, lastRows: map[string]map[string]rowsOfSecond{},
	}
}

// noteRow records that the mirror has seen a history row. Callers hold the lock.
func (m *mirror) noteRow(h salesforce.HistoryRow) {
	key := sfid.Key15(h.ParentID)
	byField := m.lastRows[key]
	if byField == nil {
		byField = map[string]rowsOfSecond{}
		m.lastRows[key] = byField
	}
	r := byField[h.Field]
	switch at := h.CreatedDate.Time; {
	case at.After(r.at):
		byField[h.Field] = rowsOfSecond{at: at, ids: []string{h.ID}}
	case at.Equal(r.at) && !slices.Contains(r.ids, h.ID):
		r.ids = append(r.ids, h.ID)
		byField[h.Field] = r
	}
}

// seenRow reports whether the mirror has seen a history row: one created before the latest second
// it has seen rows of the field, or of that second and noted. Callers hold the lock.
func (m *mirror) seenRow(h salesforce.HistoryRow) bool {
	r := m.lastRows[sfid.Key15(h.ParentID)][h.Field]
	return h.CreatedDate.Time.Before(r.at) || h.CreatedDate.Time.Equal(r.at) && slices.Contains(r.ids, h.ID)
}

// generation is the number of reads and write answers applied so far; a read notes it before it
// starts.
func (m *mirror) generation() uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.seq
}

// wroteSince reports whether a write answer of the record was applied after generation gen.
// Callers hold the lock.
func (m *mirror) wroteSince(recordID string, gen uint64) bool {
	return m.written[sfid.Key15(recordID)] > gen
}

// licenseWroteSince reports whether a write answer of the license record or of one of its value
// records was applied after generation gen. Callers hold the lock.
func (m *mirror) licenseWroteSince(l *License, gen uint64) bool {
	if m.wroteSince(l.ID, gen) {
		return true
	}
	for _, pv := range l.Params {
		if m.wroteSince(pv.RecordID, gen) {
			return true
		}
	}
	return false
}

// The mirror's reads: each takes the read lock itself, and hands out copies (but packageLicenses).

// size reports whether the first full load completed and how many licenses the mirror holds.
func (m *mirror) size() (loaded bool, licenses int) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.loaded, len(m.licenses)
}

// pkg returns the package record with the 033 id (15 or 18 characters).
func (m *mirror) pkg(packageID string) (Package, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	p, ok := m.packages[sfid.Key15(packageID)]
	return p, ok
}

// featureParameters returns the feature parameters of a package, by full name.
func (m *mirror) featureParameters(packageID string) map[string]FeatureParameter {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := map[string]FeatureParameter{}
	for _, p := range m.params {
		if sfid.Key15(p.PackageID) == sfid.Key15(packageID) {
			out[p.FullName] = p
		}
	}
	return out
}

// license returns a copy of the license with the id (15 or 18 characters).
func (m *mirror) license(id string) (License, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	l, ok := m.licenses[sfid.Key15(id)]
	if !ok {
		return License{}, false
	}
	return copyLicense(l), true
}

// licenseForWrite returns a copy of the license with the id and the versions of the copies of its
// records (the license and its value records) by record id: a write built from them is applied
// only over those very copies (see applyWrite).
func (m *mirror) licenseForWrite(id string) (License, map[string]copyVersion, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	cur := m.licenses[sfid.Key15(id)]
	if cur == nil {
		return License{}, nil, false
	}
	l := copyLicense(cur)
	versions := map[string]copyVersion{l.ID: m.versionOf(l.ID, l.SystemModstamp)}
	for _, pv := range l.Params {
		versions[pv.RecordID] = m.versionOf(pv.RecordID, pv.SystemModstamp)
	}
	return l, versions, true
}

// subscriberLicenses returns copies of the licenses of a package installed in a subscriber org,
// ordered by id.
func (m *mirror) subscriberLicenses(packageID, subscriberOrgID string) []License {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []License
	for _, id := range m.bySubscriber[subscriberKey{sfid.Key15(packageID), sfid.Key15(subscriberOrgID)}] {
		if l := m.licenses[id]; l != nil {
			out = append(out, copyLicense(l))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// packageLicenses returns the mirror's own records of a package, ordered by id: the mirror never
// changes a License it holds, so they stay as they are (see copyLicense).
func (m *mirror) packageLicenses(packageID string) []*License {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []*License
	for _, l := range m.licenses {
		if sfid.Key15(l.PackageID) == sfid.Key15(packageID) {
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// summary counts the licenses by package and status, and the Trial licenses expiring from today
// to in7 and to in30 (YYYY-MM-DD).
func (m *mirror) summary(today, in7, in30 string) Summary {
	s := Summary{ByStatus: map[[2]string]int{}, TrialsExpiring: map[[2]string]int{}}
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, l := range m.licenses {
		s.ByStatus[[2]string{l.PackageID, l.Status}]++
		if l.Status != licstatus.Trial || l.Expiration == Never || l.Expiration < today {
			continue
		}
		if l.Expiration <= in7 {
			s.TrialsExpiring[[2]string{l.PackageID, "7d"}]++
		}
		if l.Expiration <= in30 {
			s.TrialsExpiring[[2]string{l.PackageID, "30d"}]++
		}
	}
	return s
}

// snapshot is the result of a full load, swapped into the mirror in one step.
type snapshot struct {
	packages []salesforce.Package
	params   []salesforce.FeatureParameter
	licenses []salesforce.License
	values   []typedValue
	// touched are the history rows of the licenses' terms (status, seats, expiration).
	touched []salesforce.HistoryRow
	// readGen is the mirror's generation when the load began.
	readGen uint64
}

// termFields are the license fields whose history says a record's terms changed after the install,
// quoted for a SOQL IN list.
const termFields = "'" + salesforce.FieldStatus + "', '" + salesforce.FieldSeats + "', '" + salesforce.FieldExpiration + "'"

// isTermField reports whether a history row's field is one of the license's terms.
func isTermField(field string) bool {
	return field == salesforce.FieldStatus || field == salesforce.FieldSeats || field == salesforce.FieldExpiration
}

// typedValue is a value record with the data type of the object it came from.
type typedValue struct {
	dataType string
	salesforce.FeatureParameterValue
}

// replaceRead swaps in a full load and returns the ids of the licenses that are new or changed,
// and of those whose loaded copy was not taken because a write answer was applied while the load
// ran: the copy may be older than the write, so the record must be read again.
func (m *mirror) replaceRead(s snapshot) (changed, stale []string) {
	next := loadedMirror(s)
	touchedBy := map[string][]salesforce.HistoryRow{}
	for _, h := range s.touched {
		touchedBy[sfid.Key15(h.ParentID)] = append(touchedBy[sfid.Key15(h.ParentID)], h)
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq++
	at := m.seq
	stale = m.keepHeld(next, s.readGen)
	changed = m.takeLoaded(next, touchedBy, at)
	for id, l := range m.licenses {
		if _, ok := next.licenses[id]; !ok {
			changed = append(changed, l.ID)
		}
	}
	for _, h := range s.touched {
		if l := next.licenses[sfid.Key15(h.ParentID)]; l != nil && m.licenses[sfid.Key15(h.ParentID)] != l {
			m.noteRow(h)
		}
	}
	m.packages, m.packageIDs, m.params = next.packages, next.packageIDs, next.params
	m.licenses, m.bySubscriber, m.values = next.licenses, next.bySubscriber, next.values
	m.loaded = true
	sort.Strings(changed)
	sort.Strings(stale)
	return changed, stale
}

// loadedMirror is a new mirror built from a full load, which no one else sees yet.
func loadedMirror(s snapshot) *mirror {
	next := newMirror()
	next.building = true
	for _, p := range s.packages {
		next.packages[sfid.Key15(p.PackageID)] = Package{RecordID: p.ID, PackageID: p.PackageID, Name: p.Name, LatestVersion: p.LatestVersion}
		next.packageIDs[sfid.Key15(p.ID)] = p.PackageID
	}
	for _, fp := range s.params {
		next.params[sfid.Key15(fp.ID)] = FeatureParameter{RecordID: fp.ID, PackageID: next.packageIDs[sfid.Key15(fp.PackageRecordID)],
			FullName: fp.FullName, DataType: fp.DataType, Direction: fp.DataFlowDirection}
	}
	for _, l := range s.licenses {
		next.putLicense(l)
	}
	for _, v := range s.values {
		next.putValue(v, 0, 0) // marked when swapped in
	}
	for _, h := range s.touched {
		l := next.licenses[sfid.Key15(h.ParentID)]
		if l == nil || !isTermField(h.Field) {
			continue
		}
		l.TermsChanged = true
		// The latest row of a field says who changed it last: without it, drift would be
		// attributed to the record's last modifier, whoever changed whichever field.
		if prev, ok := l.Changes.Lookup(h.Field); !ok || !h.CreatedDate.Time.Before(prev.At) {
			l.setChange(h.Field, changeOf(h))
		}
	}
	return next
}

// keepHeld keeps in next, instead of a loaded copy, the held license when the loaded copy may not
// be newer, and returns their ids. Callers hold the lock.
func (m *mirror) keepHeld(next *mirror, readGen uint64) (stale []string) {
	for id, l := range next.licenses {
		old, ok := m.licenses[id]
		if !ok {
			continue
		}
		// A copy written over while the load ran, older than the held one, or differing from it
		// within the same second when a read that overlapped the load (a re-read of the writer)
		// brought the held one, is not taken: the record is read again.
		f := m.freshness(l.ID, old.SystemModstamp, l.SystemModstamp, readGen)
		if m.licenseWroteSince(old, readGen) || f == older || f == unsure && !sameLicense(old, l) {
			next.licenses[id] = old
			stale = append(stale, l.ID)
		}
	}
	return stale
}

// takeLoaded marks the loaded copies next holds (numbered at), carries over to them what the held
// ones know and a load does not read, and returns the ids of the licenses that are new or changed.
// Callers hold the lock.
func (m *mirror) takeLoaded(next *mirror, touchedBy map[string][]salesforce.HistoryRow, at uint64) (changed []string) {
	for id, l := range next.licenses {
		old, ok := m.licenses[id]
		if ok && old == l {
			continue // kept: written or changed while the load ran
		}
		m.markLoaded(old, l, at)
		if ok {
			// A change replaced since the mirror last read the record (a person's edit that
			// crossed a write, with no poll in between) shows only in the history.
			l.Superseded = append([]SupersededChange(nil), old.Superseded...)
			superseded := m.loaded && l.supersede(touchedBy[id], m.seenRow)
			// Polls saw history rows the load does not read (fields other than the terms).
			for _, c := range old.Changes {
				if cur, ok := l.Changes.Lookup(c.Field); !ok || c.At.After(cur.At) {
					l.setChange(c.Field, c)
				}
			}
			l.TermsChanged = l.TermsChanged || old.TermsChanged
			if superseded {
				changed = append(changed, l.ID)
				continue
			}
		}
		if !ok || !sameLicense(old, l) || !sameChanges(old.Changes, l.Changes) {
			changed = append(changed, l.ID)
		}
	}
	return changed
}

// markLoaded marks the copies of a license and its value records a full load (numbered at) took;
// old is the license held before, if any. Callers hold the lock.
func (m *mirror) markLoaded(old, l *License, at uint64) {
	m.mark(l.ID, at, old == nil || !sameLicense(old, l))
	for _, pv := range l.Params {
		prev, ok := ParamValue{}, false
		if old != nil {
			prev, ok = old.Params.Lookup(pv.Name)
		}
		m.mark(pv.RecordID, at, !ok || prev.Value != pv.Value || prev.LastModifiedBy != pv.LastModifiedBy)
	}
}

// candidate is the license as putLicense would store the record r over old, without storing it.
func (m *mirror) candidate(old *License, r salesforce.License) *License {
	l := licenseFromRecord(r, m.packageIDs[sfid.Key15(r.PackageRecordID)])
	l.Params, l.Changes, l.TermsChanged, l.Superseded = old.Params, old.Changes, old.TermsChanged, old.Superseded
	return l
}

// putLicense stores a license record, keeping the values it already has. Callers hold the lock (or
// own the mirror).
func (m *mirror) putLicense(r salesforce.License) *License {
	key := sfid.Key15(r.ID)
	l := licenseFromRecord(r, m.packageIDs[sfid.Key15(r.PackageRecordID)])
	if old, ok := m.licenses[key]; ok {
		l.Params, l.Changes, l.TermsChanged, l.Superseded = old.Params, old.Changes, old.TermsChanged, old.Superseded
		if old.PackageID != l.PackageID || sfid.Key15(old.SubscriberOrgID) != sfid.Key15(l.SubscriberOrgID) {
			m.unindex(old)
		} else {
			m.licenses[key] = l
			return l
		}
	}
	m.licenses[key] = l
	sk := subscriberKeyOf(l)
	m.bySubscriber[sk] = append(m.bySubscriber[sk], key)
	return l
}

func (m *mirror) unindex(l *License) {
	sk := subscriberKeyOf(l)
	ids := m.bySubscriber[sk]
	for i, id := range ids {
		if id == sfid.Key15(l.ID) {
			m.bySubscriber[sk] = append(ids[:i:i], ids[i+1:]...)
			break
		}
	}
}

// putValue stores a value record on its license, brought by a read that began at generation
// readGen and is numbered at; it returns the license id when the license's parameter changed, and
// whether the copy could not be ordered with the one held (see copyMark): then the record must be
// read again.
func (m *mirror) putValue(v typedValue, readGen, at uint64) (changedID string, reread bool) {
	param, ok := m.params[sfid.Key15(v.FeatureParameterID)]
	l := m.licenses[sfid.Key15(v.LicenseID)]
	if !ok || l == nil {
		return "", false
	}
	text := valueText(v)
	pv := ParamValue{RecordID: v.ID, DataType: param.DataType, Direction: param.Direction, Value: text,
		LastModifiedAt: v.LastModifiedDate.Time, SystemModstamp: v.SystemModstamp.Time}
	if v.LastModifiedBy != nil {
		pv.LastModifiedBy, pv.LastModifiedByUsername = v.LastModifiedBy.Name, v.LastModifiedBy.Username
	}
	if old, ok := l.Params.Lookup(param.FullName); ok {
		same := old.Value == pv.Value && old.LastModifiedBy == pv.LastModifiedBy
		switch m.freshness(v.ID, old.SystemModstamp, pv.SystemModstamp, readGen) {
		case older:
			return "", false
		case unsure:
			return "", !same
		}
		m.mark(v.ID, at, !same)
		if same {
			// Unchanged: keep the newer stamp quietly.
			m.setParam(l, param.FullName, pv)
			return "", false
		}
	} else {
		m.mark(v.ID, at, true)
	}
	m.setParam(l, param.FullName, pv)
	m.values[sfid.Key15(v.ID)] = valueRef{licenseID: sfid.Key15(l.ID), paramID: sfid.Key15(param.RecordID)}
	return l.ID, false
}

// applyRead patches the mirror with records a read that began at generation readGen brought, and
// returns the ids of the licenses whose mirrored state changed, and of those whose copies it did
// not take because a write answer of the license was applied while the read ran: such a copy may
// predate the write (the read was served before the write committed), and the record must be read
// again before anything more is decided for it.
func (m *mirror) applyRead(licenses []salesforce.License, values []typedValue, history []salesforce.HistoryRow, readGen uint64) (changedIDs, staleIDs []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq++
	at := m.seq
	changed, staleSet := map[string]bool{}, map[string]bool{}
	for _, r := range licenses {
		if m.wroteSince(r.ID, readGen) {
			staleSet[r.ID] = true
			continue
		}
		old := m.licenses[sfid.Key15(r.ID)]
		// Records only move forward, and whole-second stamps do not always say which copy is newer
		// (see copyMark): a copy that may predate the held one is not taken, and if nothing tells
		// and it differs, the record is read again rather than guessed at.
		if old != nil {
			switch m.freshness(r.ID, old.SystemModstamp, r.SystemModstamp.Time, readGen) {
			case older:
				continue
			case unsure:
				if !sameLicense(old, m.candidate(old, r)) {
					staleSet[r.ID] = true
				}
				continue
			}
		}
		l := m.putLicense(r)
		differs := old == nil || !sameLicense(old, l)
		m.mark(l.ID, at, differs)
		if differs {
			changed[l.ID] = true
		}
	}
	for _, v := range values {
		if m.wroteSince(v.ID, readGen) {
			if l := m.licenses[sfid.Key15(v.LicenseID)]; l != nil {
				staleSet[l.ID] = true
			}
			continue
		}
		id, reread := m.putValue(v, readGen, at)
		if id != "" {
			changed[id] = true
		}
		if l := m.licenses[sfid.Key15(v.LicenseID)]; reread && l != nil {
			staleSet[l.ID] = true
		}
	}
	// The history of a license whose copy was not taken waits for its re-read too: a row the mirror
	// takes is a change it has seen.
	skip := map[string]bool{}
	for id := range staleSet {
		skip[sfid.Key15(id)] = true
	}
	kept := history[:0:0]
	for _, h := range history {
		if !skip[sfid.Key15(h.ParentID)] {
			kept = append(kept, h)
		}
	}
	history = kept
	byLicense := map[string][]salesforce.HistoryRow{}
	for _, h := range history {
		byLicense[sfid.Key15(h.ParentID)] = append(byLicense[sfid.Key15(h.ParentID)], h)
	}
	for id, rows := range byLicense {
		if l := m.licenses[id]; l != nil {
			if next := *l; next.supersede(rows, m.seenRow) {
				m.licenses[id] = &next
				changed[l.ID] = true
			}
		}
	}
	for _, h := range history {
		key := sfid.Key15(h.ParentID)
		l := m.licenses[key]
		if l == nil || h.Field == "created" {
			continue
		}
		terms := isTermField(h.Field) && !l.TermsChanged
		change := changeOf(h)
		// Rows come in CreatedDate then Id order: of rows of one second, the last is the latest.
		prev, ok := l.Changes.Lookup(h.Field)
		later := !ok || h.CreatedDate.Time.After(prev.At) || h.CreatedDate.Time.Equal(prev.At) && prev != change && !m.seenRow(h)
		if terms || later {
			next := *l
			next.TermsChanged = next.TermsChanged || terms
			if later {
				next.setChange(h.Field, change)
			}
			m.licenses[key] = &next
			changed[l.ID] = true
		}
		m.noteRow(h)
	}
	return sortedKeys(changed), sortedKeys(staleSet)
}

// applyWrite records the fields a successful write set, so that controllers see the result before
// the next poll reads it back. built is the version of the record's copy the write was built from:
// when a poll brought another copy meanwhile (our write, or a person's edit made after it, perhaps
// within the same second and so with the same stamp), that copy is the truth and the answer is not
// applied over it.
func (m *mirror) applyWrite(u salesforce.RecordUpdate, built copyVersion) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l := m.licenses[sfid.Key15(u.ID)]; l != nil {
		if m.versionOf(u.ID, l.SystemModstamp) != built {
			return ""
		}
		next := *l
		for field, v := range u.Fields {
			switch field {
			case salesforce.FieldStatus:
				next.Status, _ = v.(string)
			case salesforce.FieldSeats:
				if n, ok := v.(int64); ok {
					next.Seats = &n
				}
			case salesforce.FieldExpiration:
				next.Expiration = neverIfEmpty(v)
			}
		}
		m.licenses[sfid.Key15(u.ID)] = &next
		m.wrote(u.ID)
		return next.ID
	}
	ref, ok := m.values[sfid.Key15(u.ID)]
	if !ok {
		return ""
	}
	l, param := m.licenses[ref.licenseID], m.params[ref.paramID]
	if l == nil {
		return ""
	}
	next := *l
	pv := next.Params.Get(param.FullName)
	if m.versionOf(u.ID, pv.SystemModstamp) != built {
		return ""
	}
	pv.Value = writeValueText(u.Fields[salesforce.FieldFeatureParameterValue])
	next.setParam(param.FullName, pv)
	m.licenses[ref.licenseID] = &next
	m.wrote(u.ID)
	return next.ID
}

// wrote numbers a write answer applied to a record. Callers hold the lock.
func (m *mirror) wrote(id string) {
	m.seq++
	m.written[sfid.Key15(id)] = m.seq
	m.mark(id, m.seq, true)
}

// supersede adds to the license's superseded changes those among rows (its history rows, oldest
// first) that a later change by another user replaced before the mirror held them: of the rows of
// a field the mirror had not seen, each but the last. It reports whether it added any.
func (l *License) supersede(rows []salesforce.HistoryRow, seen func(salesforce.HistoryRow) bool) bool {
	unseen := map[string]salesforce.HistoryRow{}
	added := false
	for _, h := range rows {
		if h.Field == "created" || seen(h) {
			continue
		}
		if prev, ok := unseen[h.Field]; ok && prev.ChangedBy() != h.ChangedBy() {
			// A full slice expression: append must not write into an array a copy handed out shares.
			l.Superseded = append(l.Superseded[:len(l.Superseded):len(l.Superseded)], SupersededChange{Field: prev.Field, Value: historyText(prev.Field, prev.NewValue),
				By: prev.ChangedBy(), At: prev.CreatedDate.Time, ReplacedBy: h.ChangedBy()})
			added = true
		}
		unseen[h.Field] = h
	}
	if n := len(l.Superseded); n > maxSuperseded {
		l.Superseded = append([]SupersededChange(nil), l.Superseded[n-maxSuperseded:]...)
	}
	return added
}

// historyText is a field history value as text in drift's forms.
func historyText(field string, raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	switch x := v.(type) {
	case nil:
		if field == salesforce.FieldExpiration {
			return Never
		}
		return ""
	case float64:
		n := int64(x)
		if field == salesforce.FieldSeats {
			return drift.SeatsText(&n)
		}
		return strconv.FormatInt(n, 10)
	case string:
		if field == salesforce.FieldExpiration && (x == "" || x == "1970-01-01") {
			return Never
		}
		return x
	case bool:
		return strconv.FormatBool(x)
	}
	return string(raw)
}

func neverIfEmpty(v any) string {
	s, _ := v.(string)
	if s == "" || s == salesforce.NeverExpiresDate {
		return Never
	}
	return s
}

func writeValueText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case string:
		return x
	}
	return ""
}

// Never is the expiration of a license that does not expire (the same text the License API uses).
const Never = drift.Never

// LicenseFromRecord is a license record as the mirror holds it: a negative seat count is a site
// license, an empty or 1970-01-01 expiration is Never, and a value the operator cannot read leaves
// its field empty and is named in Unreadable. lmoctl uses it so that plan decides over the records
// exactly as the operator sees them.
func LicenseFromRecord(r salesforce.License, packageID string) License {
	return *licenseFromRecord(r, packageID)
}

func licenseFromRecord(r salesforce.License, packageID string) *License {
	l := &License{
		ID: r.ID, Name: r.Name, PackageID: packageID, SubscriberOrgID: r.SubscriberOrgID, Status: r.Status,
		InstallDate: r.InstallDate.String(), Edition: r.OrgType, IsSandbox: r.IsSandbox, VersionNumber: r.VersionNumber,
		LastModifiedAt: r.LastModifiedDate.Time, SystemModstamp: r.SystemModstamp.Time, Expiration: Never,
		Unreadable: r.Unreadable(), RecordType: r.RecordTypeName(), NotEditable: r.NotEditable(),
		Customer: r.Customer(), OrgStatus: strings.TrimSpace(r.OrgStatus), SubscriberOrgGone: r.SubscriberOrgGone(),
	}
	if d, ok := r.OrgTrialExpirationDate(); ok {
		l.OrgTrialExpiration = d.String()
	}
	if packageID == "" {
		l.PackageID = r.PackageID()
	}
	if r.Seats != nil && r.SeatsReadable() {
		n := int64(*r.Seats)
		if n < 0 {
			n = -1
		}
		l.Seats = &n
	}
	if r.UsedLicenses != nil && r.UsedLicensesReadable() {
		n := int64(*r.UsedLicenses)
		l.UsedLicenses = &n
	}
	if !r.NeverExpires() {
		l.Expiration = r.Expiration.String()
	}
	if r.LastModifiedBy != nil {
		l.LastModifiedBy, l.LastModifiedByUsername = r.LastModifiedBy.Name, r.LastModifiedBy.Username
	}
	return l
}

func valueText(v typedValue) string {
	if v.IsNull() {
		return ""
	}
	switch v.dataType {
	case salesforce.DataTypeBoolean:
		if b, err := v.Bool(); err == nil {
			return strconv.FormatBool(b)
		}
	case salesforce.DataTypeInteger:
		if n, err := v.Int(); err == nil {
			return strconv.FormatInt(n, 10)
		}
	case salesforce.DataTypeDate:
		if d, err := v.Date(); err == nil {
			return d.String()
		}
	}
	return ""
}

// sameLicense reports whether two copies of a record show the same state to a controller.
func sameLicense(a, b *License) bool {
	return a.Status == b.Status && eqInt(a.Seats, b.Seats) && a.Expiration == b.Expiration &&
		eqInt(a.UsedLicenses, b.UsedLicenses) && a.VersionNumber == b.VersionNumber && a.IsSandbox == b.IsSandbox &&
		a.LastModifiedBy == b.LastModifiedBy && a.LastModifiedAt.Equal(b.LastModifiedAt) && sameParams(a.Params, b.Params) &&
		a.Unreadable == b.Unreadable && a.TermsChanged == b.TermsChanged && a.RecordType == b.RecordType &&
		a.NotEditable == b.NotEditable && a.Customer == b.Customer && a.OrgStatus == b.OrgStatus &&
		a.OrgTrialExpiration == b.OrgTrialExpiration && a.SubscriberOrgGone == b.SubscriberOrgGone
}

func sameParams(a, b ParamValues) bool {
	if len(a) != len(b) {
		return false
	}
	for i, v := range a {
		// Who set a value is shown with it (drift attribution): a change of author is a change.
		if w := b[i]; w.Name != v.Name || w.Value != v.Value || w.LastModifiedBy != v.LastModifiedBy {
			return false
		}
	}
	return true
}

func sameChanges(a, b FieldChanges) bool {
	if len(a) != len(b) {
		return false
	}
	for i, v := range a {
		if w := b[i]; w.Field != v.Field || w.By != v.By || w.Username != v.Username || !w.At.Equal(v.At) {
			return false
		}
	}
	return true
}

func eqInt(a, b *int64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// setParam replaces the held license l by a copy with one feature parameter value set: the mirror
// never changes a License it holds (see copyLicense). Callers hold the lock (or own the mirror).
func (m *mirror) setParam(l *License, name string, pv ParamValue) {
	if m.building {
		l.setParam(name, pv) // a full load's new mirror: no one holds its licenses yet
		return
	}
	next := *l
	next.setParam(name, pv)
	m.licenses[sfid.Key15(l.ID)] = &next
}

// copyLicense returns a copy a caller may keep and change.
func copyLicense(l *License) License {
	c := *l
	if l.Seats != nil {
		n := *l.Seats
		c.Seats = &n
	}
	if l.UsedLicenses != nil {
		n := *l.UsedLicenses
		c.UsedLicenses = &n
	}
	c.Params = slices.Clone(l.Params)
	c.Changes = slices.Clone(l.Changes)
	c.Superseded = append([]SupersededChange(nil), l.Superseded...)
	return c
}

// The mirror never changes a License it holds: a change replaces the *License with a changed copy
// (applyRead, setParam, applyWrite), and the copy's slices are new ones (setParam, setChange and
// supersede replace them rather than write into them). So a *License taken under the lock stays as
// it was, for callers that only read it (PackageLicenses); only a full load's new mirror, which no
// one else sees yet, is built in place.

// setParam sets one feature parameter value, replacing the Params slice: copies handed out keep theirs.
func (l *License) setParam(name string, pv ParamValue) {
	pv.Name = name
	l.Params = l.Params.with(pv)
}

// setChange sets who last changed a field, replacing the Changes slice: copies handed out keep theirs.
func (l *License) setChange(field string, c FieldChange) {
	c.Field = field
	l.Changes = l.Changes.with(c)
}
