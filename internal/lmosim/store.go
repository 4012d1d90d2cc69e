package lmosim

import (
	"fmt"
	"time"

	"github.com/lmo-operator/lmo-operator/internal/salesforce/sfid"
)

// audit holds the system fields every stored record carries.
type audit struct {
	Created    int64  `json:"created"`
	CreatedBy  string `json:"createdBy"`
	Modified   int64  `json:"modified"`
	ModifiedBy string `json:"modifiedBy"`
	Modstamp   int64  `json:"modstamp"`
}

func (a *audit) aud() *audit { return a }

// record is any stored row.
type record interface {
	recID() string
	aud() *audit
}

type orgRec struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	Edition         string `json:"edition"`
	IsSandbox       bool   `json:"isSandbox"`
	TrialExpiration string `json:"trialExpiration"`
	InstanceName    string `json:"instanceName"`
	audit
}

func (r *orgRec) recID() string { return r.ID }

type userRec struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Username string `json:"username"`
	audit
}

func (r *userRec) recID() string { return r.ID }

type packageRec struct {
	ID             string          `json:"id"`
	Name           string          `json:"name"`
	PackageID      string          `json:"packageID"`
	LatestVersion  string          `json:"latestVersion"`
	DeveloperOrgID string          `json:"developerOrgID"`
	Defaults       PackageDefaults `json:"defaults"`
	audit
}

func (r *packageRec) recID() string { return r.ID }

type versionRec struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	PackageRecID  string `json:"packageRecID"`
	VersionNumber string `json:"versionNumber"`
	audit
}

func (r *versionRec) recID() string { return r.ID }

type paramRec struct {
	ID           string `json:"id"`
	FullName     string `json:"fullName"`
	DataType     string `json:"dataType"`
	Direction    string `json:"direction"`
	PackageRecID string `json:"packageRecID"`
	audit
}

func (r *paramRec) recID() string { return r.ID }

type licenseRec struct {
	ID              string  `json:"id"`
	Name            string  `json:"name"`
	Status          string  `json:"status"`
	Seats           float64 `json:"seats"`
	Expiration      string  `json:"expiration"`
	SubscriberOrgID string  `json:"subscriberOrgID"`
	PackageRecID    string  `json:"packageRecID"`
	VersionRecID    string  `json:"versionRecID"`
	VersionNumber   string  `json:"versionNumber"`
	UsedLicenses    float64 `json:"usedLicenses"`
	OrgType         string  `json:"orgType"`
	OrgInstance     string  `json:"orgInstance"`
	IsSandbox       bool    `json:"isSandbox"`
	InstallDate     string  `json:"installDate"`
	AccountID       string  `json:"accountID"`
	ContactID       string  `json:"contactID"`
	LeadID          string  `json:"leadID"`
	// WasActive remembers that the license has been Active once, so it can never go back to Trial.
	WasActive bool `json:"wasActive"`
	// RecordType is the name of the license's record type (Active, Trial, Suspended, Uninstalled or
	// Expired), or "" for none: the status the LMA page shows.
	RecordType string `json:"recordType,omitempty"`
	// LicenseType is sfLma__License_Type__c: empty or Editable for a license the LMA lets anyone
	// modify, anything else (Read-Only) for one it does not.
	LicenseType string `json:"licenseType,omitempty"`
	// OrgStatus is the subscriber org's status as the LMA keeps it (sfLma__Org_Status__c): ACTIVE,
	// TRIAL, FREE, DELETED, PENDING_DELETE, … ("" when unknown).
	OrgStatus string `json:"orgStatus,omitempty"`
	// OrgTrialExpiration is the trial subscriber org's expiration as text (Org Expiration Date).
	OrgTrialExpiration string `json:"orgTrialExpiration,omitempty"`
	audit

	values []*valueRec // this license's feature parameter values, one per parameter
}

func (r *licenseRec) recID() string { return r.ID }

type valueRec struct {
	ID        string   `json:"id"`
	Type      string   `json:"type"` // Boolean, Integer or Date
	ParamID   string   `json:"paramID"`
	LicenseID string   `json:"licenseID"`
	Bool      bool     `json:"bool,omitempty"`
	Num       *float64 `json:"num,omitempty"`
	Date      string   `json:"date,omitempty"`
	audit
}

func (r *valueRec) recID() string { return r.ID }

// value is the record's sfFma__Value__c.
func (r *valueRec) value() val {
	switch r.Type {
	case "Boolean":
		return boolean(r.Bool)
	case "Integer":
		if r.Num == nil {
			return null
		}
		return num(*r.Num)
	default:
		return date(r.Date)
	}
}

type historyRec struct {
	ID       string `json:"id"`
	ParentID string `json:"parentID"`
	Field    string `json:"field"`
	OldValue val    `json:"oldValue"`
	NewValue val    `json:"newValue"`
	audit
}

func (r *historyRec) recID() string { return r.ID }

// store is the simulated org's data. The Server guards it with one RWMutex.
type store struct {
	// strict enforces the Modify License page's rules on API writes (see Seed.StrictLicenseRules).
	strict bool
	// readOnly are fields field-level security leaves read-only (see Seed.ReadOnlyFields).
	readOnly map[string]bool
	// recordTypes is true while the License object has record types (see Seed.RecordTypes).
	recordTypes bool
	// keepRecordType makes API writes of the status leave the record type as it is (see
	// Seed.APIWritesKeepRecordType).
	keepRecordType bool
	// licenseTypeField is true while the License object has sfLma__License_Type__c.
	licenseTypeField bool
	// orgStatusFields is true while the License object has the org status fields.
	orgStatusFields bool
	accounts        []*accountRec
	leads           []*leadRec
	org             *orgRec
	users           []*userRec
	packages        []*packageRec
	versions        []*versionRec
	params          []*paramRec
	licenses        []*licenseRec
	values          map[string][]*valueRec // by type: Boolean, Integer, Date
	history         []*historyRec
	byID            map[string]record
	idSeq           map[string]uint64
	nameSeq         int
	lastStamp       int64
}

func newStore() *store {
	return &store{
		values: map[string][]*valueRec{},
		byID:   map[string]record{},
		idSeq:  map[string]uint64{},
	}
}

// newID hands out the next free id with the prefix.
func (st *store) newID(prefix string) string {
	for {
		st.idSeq[prefix]++
		id := makeID(prefix, st.idSeq[prefix])
		if _, taken := st.byID[sfid.Key15(id)]; !taken {
			return id
		}
	}
}

// newHistoryID hands out history ids without indexing them (there can be very many).
func (st *store) newHistoryID() string {
	st.idSeq[prefixHistory]++
	return makeID(prefixHistory, st.idSeq[prefixHistory])
}

// stamp returns the SystemModstamp of a change made at now: a whole second, as Salesforce's
// datetimes read back (…:05.000+0000; its SOQL datetime literals have no milliseconds either, and
// its comparisons ignore them: see docs/salesforce-fidelity.md). Several changes share one stamp,
// and polling `SystemModstamp > watermark` alone can miss a change made in the watermark's second. The stamp never moves back from the latest one
// handed out, so a clock that steps back (a state file written by a later clock) still gives each
// record stamps that never decrease.
func (st *store) stamp(now time.Time) int64 {
	ms := secondStamp(now)
	if ms < st.lastStamp {
		ms = st.lastStamp
	}
	st.lastStamp = ms
	return ms
}

// lateStamp is the stamp of a change whose transaction began lag before it committed at now (see
// Fault.CommitDelayMs): the stamp of when it began, so that it becomes visible carrying a stamp
// older than changes committed meanwhile. It is never earlier than the record's own last stamp:
// the transaction held the record's row lock from its beginning, so no change of the record can
// have committed in between.
func (st *store) lateStamp(r record, now time.Time, lag time.Duration) int64 {
	if lag <= 0 {
		return st.stamp(now)
	}
	ms := max(secondStamp(now.Add(-lag)), r.aud().Modstamp)
	st.observe(ms)
	return ms
}

// secondStamp is t as a stored datetime: milliseconds since the epoch, whole seconds.
func secondStamp(t time.Time) int64 { return t.Truncate(time.Second).UnixMilli() }

// observe keeps lastStamp at or above a stamp loaded from the seed or a state file.
func (st *store) observe(ms int64) {
	if ms > st.lastStamp {
		st.lastStamp = ms
	}
}

// get finds any record by a 15- or 18-character id.
func (st *store) get(id string) record { return st.byID[sfid.Key15(id)] }

func (st *store) add(r record) {
	st.byID[sfid.Key15(r.recID())] = r
	st.observe(r.aud().Modstamp)
}

func (st *store) addLicense(l *licenseRec) {
	if l.RecordType == "" {
		l.RecordType = recordTypeForStatus(l.Status)
	}
	st.licenses = append(st.licenses, l)
	st.add(l)
}

func (st *store) addValue(v *valueRec) {
	st.values[v.Type] = append(st.values[v.Type], v)
	st.add(v)
	if l, ok := st.get(v.LicenseID).(*licenseRec); ok {
		l.values = append(l.values, v)
	}
}

func (st *store) license(id string) *licenseRec {
	l, _ := st.get(id).(*licenseRec)
	return l
}

func (st *store) pkg(id string) *packageRec {
	p, _ := st.get(id).(*packageRec)
	return p
}

func (st *store) param(id string) *paramRec {
	p, _ := st.get(id).(*paramRec)
	return p
}

func (st *store) user(id string) *userRec {
	u, _ := st.get(id).(*userRec)
	return u
}

func (st *store) packageByPackageID(packageID string) *packageRec {
	for _, p := range st.packages {
		if p.PackageID == packageID || (len(packageID) == 15 && p.PackageID[:15] == packageID) {
			return p
		}
	}
	return nil
}

func (st *store) paramsOf(pkgRecID string) []*paramRec {
	var out []*paramRec
	for _, p := range st.params {
		if p.PackageRecID == pkgRecID {
			out = append(out, p)
		}
	}
	return out
}

// versionFor finds or creates the package version record of a version number.
func (st *store) versionFor(p *packageRec, number string, at int64, by string) *versionRec {
	for _, v := range st.versions {
		if v.PackageRecID == p.ID && v.VersionNumber == number {
			return v
		}
	}
	v := &versionRec{ID: st.newID(prefixVersion), Name: p.Name + " " + number, PackageRecID: p.ID, VersionNumber: number,
		audit: audit{Created: at, CreatedBy: by, Modified: at, ModifiedBy: by, Modstamp: at}}
	st.versions = append(st.versions, v)
	st.add(v)
	return v
}

// nextLicenseName is the License auto-number.
func (st *store) nextLicenseName() string {
	st.nameSeq++
	return licenseName(st.nameSeq)
}

func licenseName(n int) string {
	return fmt.Sprintf("L-%05d", n)
}

// addHistory records one field change of a license.
func (st *store) addHistory(parentID, field string, oldValue, newValue val, by string, at int64) {
	st.history = append(st.history, &historyRec{ID: st.newHistoryID(), ParentID: parentID, Field: field,
		OldValue: oldValue, NewValue: newValue, audit: audit{Created: at, CreatedBy: by, Modified: at, ModifiedBy: by, Modstamp: at}})
}
