package salesforce

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/lmo-operator/lmo-operator/internal/salesforce/licstatus"
)

// sObject API names of the LMA and FMA objects the operator reads and writes.
const (
	// LicenseObject is the LMA's license record.
	LicenseObject = "sfLma__License__c"
	// LicenseHistoryObject is the field history of licenses.
	LicenseHistoryObject = "sfLma__License__History"
	// PackageObject is the LMA's package record.
	PackageObject = "sfLma__Package__c"
	// FeatureParameterObject is the FMA's feature parameter definition.
	FeatureParameterObject = "sfFma__FeatureParameter__c"
	// FeatureParameterBoolean holds per-license values of Boolean feature parameters.
	FeatureParameterBoolean = "sfFma__FeatureParameterBoolean__c"
	// FeatureParameterInteger holds per-license values of Integer feature parameters.
	FeatureParameterInteger = "sfFma__FeatureParameterInteger__c"
	// FeatureParameterDate holds per-license values of Date feature parameters.
	FeatureParameterDate = "sfFma__FeatureParameterDate__c"
)

// Field API names of the license fields the operator writes.
const (
	// FieldStatus is the license status picklist (Trial, Active, Suspended, Uninstalled).
	FieldStatus = "sfLma__Status__c"
	// FieldSeats is the seat count; negative means site license.
	FieldSeats = "sfLma__Seats__c"
	// FieldExpiration is the expiration date; empty means "does not expire".
	FieldExpiration = "sfLma__Expiration__c"
	// FieldFeatureParameterValue is the value of a feature parameter value record.
	FieldFeatureParameterValue = "sfFma__Value__c"
	// FieldLicenseType is the LMA's License Type text field, read (never written) to tell licenses
	// the LMA does not let anyone modify.
	FieldLicenseType = "sfLma__License_Type__c"
	// FieldRecordTypeID is the license's record type, there only while the License object has
	// record types; the status the LMA page shows is the record type's name.
	FieldRecordTypeID = "RecordTypeId"
	// FieldAccount is the license's lookup to the customer's Account (for a converted lead); the
	// customer's name is read as sfLma__Account__r.Name.
	FieldAccount = "sfLma__Account__c"
	// FieldLead is the license's lookup to the Lead the install created; only the lead's Company is
	// read (sfLma__Lead__r.Company), never the person.
	FieldLead = "sfLma__Lead__c"
	// FieldOrgStatus is the subscriber org's status as the LMA last saw it, a text formula over
	// sfLma__Org_Status_Formula__c (Active, Free, Trial, …; the data holds them upper-case).
	FieldOrgStatus = "sfLma__Org_Status__c"
	// FieldOrgTrialExpiration is the date a trial subscriber org expires (label "Org Expiration
	// Date"), a text formula over sfLma__Org_Trial_Expiration__c; unrelated to the license's own
	// expiration.
	FieldOrgTrialExpiration = "sfLma__Trial_Expiration_Date__c"
)

// License status picklist values (named in licstatus, which the controllers may import).
const (
	StatusTrial       = licstatus.Trial
	StatusActive      = licstatus.Active
	StatusSuspended   = licstatus.Suspended
	StatusUninstalled = licstatus.Uninstalled
)

// Name is a related record's name, as in `LastModifiedBy.Name`, and for a user the username
// (`CreatedBy.Username`) when selected: people's names collide, usernames do not.
type Name struct {
	// Name is the related record's Name field.
	Name string `json:"Name"`
	// Username is a User's Username, when selected.
	Username string `json:"Username,omitempty"`
}

// PackageRef is the parent package of a license, as in `sfLma__Package__r.sfLma__Package_ID__c`.
type PackageRef struct {
	// PackageID is the package's 033 id.
	PackageID string `json:"sfLma__Package_ID__c"`
}

// AccountRef is the license's account, as in `sfLma__Account__r.Name`.
type AccountRef struct {
	// Name is the account's name: the customer's company.
	Name string `json:"Name"`
}

// LeadRef is the license's lead, as in `sfLma__Lead__r.Company`. Only the company is read: the
// lead's person (name, email) is personal data the operator has no use for.
type LeadRef struct {
	// Company is the lead's company.
	Company string `json:"Company"`
}

// License is an LMA license record (sfLma__License__c), one per install of a package in a subscriber org.
type License struct {
	ID               string      `json:"Id"`
	Name             string      `json:"Name"`
	Status           string      `json:"sfLma__Status__c"`
	Seats            *float64    `json:"sfLma__Seats__c"`
	Expiration       Date        `json:"sfLma__Expiration__c"`
	SubscriberOrgID  string      `json:"sfLma__Subscriber_Org_ID__c"`
	PackageRecordID  string      `json:"sfLma__Package__c"`
	Package          *PackageRef `json:"sfLma__Package__r"`
	VersionNumber    string      `json:"sfLma__Version_Number__c"`
	UsedLicenses     *float64    `json:"sfLma__Used_Licenses__c"`
	OrgType          string      `json:"sfLma__Org_Type__c"`
	OrgInstance      string      `json:"sfLma__Org_Instance__c"`
	IsSandbox        bool        `json:"sfLma__Subscriber_Org_Is_Sandbox__c"`
	InstallDate      Date        `json:"sfLma__Install_Date__c"`
	LastModifiedByID string      `json:"LastModifiedById"`
	LastModifiedBy   *Name       `json:"LastModifiedBy"`
	LastModifiedDate DateTime    `json:"LastModifiedDate"`
	SystemModstamp   DateTime    `json:"SystemModstamp"`
	IsDeleted        bool        `json:"IsDeleted"`
	// RecordType is the record type (RecordType.Name): the status the LMA page shows, which its
	// License Status formula reads from the record type. Nil when the record has none or the org's
	// License object has no record types.
	RecordType *Name `json:"RecordType"`
	// LicenseType is sfLma__License_Type__c; see NotEditable.
	LicenseType string `json:"sfLma__License_Type__c"`
	// Account is the customer's account (sfLma__Account__r), nil when the lead was not converted or
	// the lookup was not selected.
	Account *AccountRef `json:"sfLma__Account__r"`
	// Lead is the install's lead (sfLma__Lead__r), its company only.
	Lead *LeadRef `json:"sfLma__Lead__r"`
	// OrgStatus is sfLma__Org_Status__c; see SubscriberOrgGone.
	OrgStatus string `json:"sfLma__Org_Status__c"`
	// OrgTrialExpiration is sfLma__Trial_Expiration_Date__c as text; see OrgTrialExpirationDate.
	OrgTrialExpiration string `json:"sfLma__Trial_Expiration_Date__c"`
}

// licenseBaseFields are the License fields every LMA has.
const licenseBaseFields = "Id, Name, sfLma__Status__c, sfLma__Seats__c, sfLma__Expiration__c, " +
	"sfLma__Subscriber_Org_ID__c, sfLma__Package__c, sfLma__Package__r.sfLma__Package_ID__c, " +
	"sfLma__Version_Number__c, sfLma__Used_Licenses__c, sfLma__Org_Type__c, sfLma__Org_Instance__c, " +
	"sfLma__Subscriber_Org_Is_Sandbox__c, sfLma__Install_Date__c, LastModifiedById, LastModifiedBy.Name, " +
	"LastModifiedBy.Username, LastModifiedDate, SystemModstamp, IsDeleted"

// LicenseFields is the SOQL field list that fills every field of License, for an org whose License
// object has every optional field (record types, sfLma__License_Type__c, the account and lead
// lookups, the org status fields; every LMA the sources show):
// `SELECT ` + LicenseFields + ` FROM ` + LicenseObject + ` WHERE …`. Where an org may lack them,
// use LicenseFieldsFor(LicenseFieldSetOf(describe)): selecting an absent field fails the query.
const LicenseFields = licenseBaseFields + ", RecordType.Name, " + FieldLicenseType + ", " + customerFields + ", " + orgStateFields

// The SOQL of the optional customer and subscriber org fields.
const (
	accountField   = "sfLma__Account__r.Name"
	leadField      = "sfLma__Lead__r.Company"
	customerFields = accountField + ", " + leadField
	orgStateFields = FieldOrgStatus + ", " + FieldOrgTrialExpiration
)

// LicenseFieldSet says which optional License fields an org has.
type LicenseFieldSet struct {
	// RecordType is true when the License object has record types (RecordTypeId exists).
	RecordType bool
	// LicenseType is true when sfLma__License_Type__c exists.
	LicenseType bool
	// Account is true when the account lookup sfLma__Account__c is readable.
	Account bool
	// Lead is true when the lead lookup sfLma__Lead__c is readable.
	Lead bool
	// OrgStatus is true when sfLma__Org_Status__c exists.
	OrgStatus bool
	// OrgTrialExpiration is true when sfLma__Trial_Expiration_Date__c exists.
	OrgTrialExpiration bool
}

// AllLicenseFields is the field set of an LMA with every optional License field.
var AllLicenseFields = LicenseFieldSet{RecordType: true, LicenseType: true, Account: true, Lead: true, OrgStatus: true, OrgTrialExpiration: true}

// LicenseFieldSetOf reads the optional fields from the License object's describe (which lists only
// the fields the calling user can read).
func LicenseFieldSetOf(d SObjectDescribe) LicenseFieldSet {
	has := func(name string) bool { _, ok := d.Field(name); return ok }
	return LicenseFieldSet{RecordType: has(FieldRecordTypeID), LicenseType: has(FieldLicenseType), Account: has(FieldAccount),
		Lead: has(FieldLead), OrgStatus: has(FieldOrgStatus), OrgTrialExpiration: has(FieldOrgTrialExpiration)}
}

// LicenseFieldsFor is the SOQL field list of License for an org with the optional fields fs.
func LicenseFieldsFor(fs LicenseFieldSet) string {
	f := licenseBaseFields
	if fs.RecordType {
		f += ", RecordType.Name"
	}
	if fs.LicenseType {
		f += ", " + FieldLicenseType
	}
	if fs.Account {
		f += ", " + accountField
	}
	if fs.Lead {
		f += ", " + leadField
	}
	if fs.OrgStatus {
		f += ", " + FieldOrgStatus
	}
	if fs.OrgTrialExpiration {
		f += ", " + FieldOrgTrialExpiration
	}
	return f
}

// maxCustomerLength is the most characters of a customer name the operator keeps (Account.Name is
// 255 characters at most; Lead.Company is shorter).
const maxCustomerLength = 255

// Customer is the name of the customer behind the license: its account's name, else the company of
// its lead, else "". The lead's and contact's person are never read.
func (l License) Customer() string {
	if l.Account != nil {
		if n := strings.TrimSpace(l.Account.Name); n != "" {
			return truncateRunes(n, maxCustomerLength)
		}
	}
	if l.Lead != nil {
		return truncateRunes(strings.TrimSpace(l.Lead.Company), maxCustomerLength)
	}
	return ""
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}

// Subscriber org states sfLma__Org_Status__c holds (upper-case, as the LMA's data shows them).
const (
	OrgStatusActive        = "ACTIVE"
	OrgStatusTrial         = "TRIAL"
	OrgStatusFree          = "FREE"
	OrgStatusDeleted       = "DELETED"
	OrgStatusPendingDelete = "PENDING_DELETE"
)

// NormalizeOrgStatus spells an org status the way the LMA's data does: upper-case, words joined by
// underscores ("Pending Delete" and "pending-delete" are PENDING_DELETE).
func NormalizeOrgStatus(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '-' || r == '_' }), "_")
}

// SubscriberOrgGone says why the license's subscriber org is gone (deleted, or pending deletion),
// or "" when it is not. Only those two values count: the License Object Fields page documents
// Active, Free and Trial, and any other value (a suspended org, one the sources do not name) is
// reported but does not stop writes.
func (l License) SubscriberOrgGone() string {
	switch NormalizeOrgStatus(l.OrgStatus) {
	case OrgStatusDeleted, OrgStatusPendingDelete:
		return fmt.Sprintf("the subscriber org %s is gone: its org status (%s) is %q", l.SubscriberOrgID, FieldOrgStatus, truncate(l.OrgStatus, 64))
	}
	return ""
}

// OrgTrialExpirationDate reads the subscriber org's trial expiration, a text field: YYYY-MM-DD
// (possibly with a time after it) or M/D/YYYY. ok is false when it is empty or not a date.
func (l License) OrgTrialExpirationDate() (Date, bool) {
	s := strings.TrimSpace(l.OrgTrialExpiration)
	if s == "" {
		return Date{}, false
	}
	if len(s) > 10 && s[10] == 'T' {
		s = s[:10]
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return DateOf(t), true
	}
	if t, err := time.Parse("1/2/2006", s); err == nil {
		return DateOf(t), true
	}
	return Date{}, false
}

// RecordTypeName is the license's record type name, or "" when it has none.
func (l License) RecordTypeName() string {
	if l.RecordType == nil {
		return ""
	}
	return l.RecordType.Name
}

// NotEditable says why the LMA does not let anyone modify the license, or "" when it does.
// sfLma__License_Type__c is a Text(255) field whose description in the LMA calls a "Read-Only"
// license one that cannot be modified, and licenses provisioned through AppExchange Checkout cannot
// be modified in the LMA (ISVforce Guide, "Modify a License Record"); the License Object Fields page
// calls the field legacy and documents no values. So only an empty value or "Editable" is read as
// editable: anything else may be a license someone else manages, and is never written.
func (l License) NotEditable() string {
	if v := strings.TrimSpace(l.LicenseType); v != "" && !strings.EqualFold(v, "Editable") {
		return fmt.Sprintf("its license type (%s) is %q: the LMA does not let it be modified; licenses provisioned through AppExchange Checkout are managed by Checkout, and changes go through the customer's subscription on AppExchange", FieldLicenseType, truncate(v, 64))
	}
	return ""
}

// Validate checks the shape of a License: a record without an Id cannot be placed. Values the
// operator cannot read (a status outside the four it knows, fractional seats) do not fail the page:
// Salesforce's Status picklist is not restricted, so one odd record is possible, and it must not stop
// every other record from being read. Unreadable names such values; the engine quarantines the
// record (keeps it, never writes it, and says why on the License bound to it).
func (l License) Validate() error {
	if l.ID == "" {
		return fmt.Errorf("a license record has no Id")
	}
	return nil
}

// Unreadable names the first value of the record the operator cannot read, with the field and the
// value; it is empty when every value is readable. An empty status is a field that was not selected.
func (l License) Unreadable() string {
	switch l.Status {
	case "", StatusTrial, StatusActive, StatusSuspended, StatusUninstalled:
	default:
		return fmt.Sprintf("status %q (%s) is not Trial, Active, Suspended or Uninstalled", truncate(l.Status, 64), FieldStatus)
	}
	if !l.SeatsReadable() {
		return fmt.Sprintf("seats %v (%s) is not -1 (site license) or a whole number 0..%d", *l.Seats, FieldSeats, MaxSeats)
	}
	if !l.UsedLicensesReadable() {
		return fmt.Sprintf("used licenses %v (sfLma__Used_Licenses__c) is not a whole number of 0 or more", *l.UsedLicenses)
	}
	return ""
}

// SeatsReadable reports whether the seats are empty, -1 or a whole number within range.
func (l License) SeatsReadable() bool { return l.Seats == nil || wholeInRange(*l.Seats, -1, MaxSeats) }

// UsedLicensesReadable reports whether the used licenses are empty or a whole number within range.
func (l License) UsedLicensesReadable() bool {
	return l.UsedLicenses == nil || wholeInRange(*l.UsedLicenses, 0, math.MaxInt32)
}

// MaxSeats is the most seats a license can have.
const MaxSeats = 99_000_000

func wholeInRange(f float64, lo, hi float64) bool {
	return !math.IsNaN(f) && f == math.Trunc(f) && f >= lo && f <= hi
}

var _ validator = License{}

// NeverExpiresDate is the expiration the LMA gives a license that does not expire: its Expiration
// field describes 1/1/1970 as perpetual, and its Expiration Date formula shows "Does not expire" for
// that date. An empty date reads the same.
const NeverExpiresDate = "1970-01-01"

// NeverExpires reports whether the license does not expire (empty expiration or 1970-01-01).
func (l License) NeverExpires() bool { return l.Expiration.IsNever() }

// IsSiteLicense reports whether the license is a site license (negative seats).
func (l License) IsSiteLicense() bool { return l.Seats != nil && *l.Seats < 0 }

// PackageID is the license's package 033 id, or "" when the relationship was not selected.
func (l License) PackageID() string {
	if l.Package == nil {
		return ""
	}
	return l.Package.PackageID
}

// Package is an LMA package record (sfLma__Package__c).
type Package struct {
	ID             string   `json:"Id"`
	Name           string   `json:"Name"`
	PackageID      string   `json:"sfLma__Package_ID__c"`
	LatestVersion  string   `json:"sfLma__Latest_Version__c"`
	DeveloperOrgID string   `json:"sfLma__Developer_Org_ID__c"`
	SystemModstamp DateTime `json:"SystemModstamp"`
}

// PackageFields is the SOQL field list that fills every field of Package.
const PackageFields = "Id, Name, sfLma__Package_ID__c, sfLma__Latest_Version__c, sfLma__Developer_Org_ID__c, SystemModstamp"

// FeatureParameter is an FMA feature parameter definition (sfFma__FeatureParameter__c).
type FeatureParameter struct {
	// ID is the record id.
	ID string `json:"Id"`
	// FullName is the parameter's name as the LMO shows it, e.g. acme__MaxProjects.
	FullName string `json:"sfFma__FullName__c"`
	// DataType is Boolean, Integer or Date.
	DataType string `json:"sfFma__DataType__c"`
	// DataFlowDirection is "LMO to Subscriber" (writable here) or "Subscriber to LMO" (read-only).
	DataFlowDirection string `json:"sfFma__DataFlowDirection__c"`
	// PackageRecordID is the id of the sfLma__Package__c record.
	PackageRecordID string `json:"sfFma__Package__c"`
	// SystemModstamp moves on every change.
	SystemModstamp DateTime `json:"SystemModstamp"`
}

// FeatureParameterFields is the SOQL field list that fills every field of FeatureParameter.
const FeatureParameterFields = "Id, sfFma__FullName__c, sfFma__DataType__c, sfFma__DataFlowDirection__c, sfFma__Package__c, SystemModstamp"

// Feature parameter data types and directions as the FMA names them.
const (
	DataTypeBoolean       = "Boolean"
	DataTypeInteger       = "Integer"
	DataTypeDate          = "Date"
	DirectionToSubscriber = "LMO to Subscriber"
	DirectionToLMO        = "Subscriber to LMO"
)

// ValueObjectFor returns the sObject that holds values of a feature parameter of dataType
// (FeatureParameterBoolean, …Integer or …Date), or "" for an unknown type.
func ValueObjectFor(dataType string) string {
	switch dataType {
	case DataTypeBoolean:
		return FeatureParameterBoolean
	case DataTypeInteger:
		return FeatureParameterInteger
	case DataTypeDate:
		return FeatureParameterDate
	}
	return ""
}

// FeatureParameterValue is one license's value of one feature parameter, a record of
// FeatureParameterBoolean, FeatureParameterInteger or FeatureParameterDate.
type FeatureParameterValue struct {
	// ID is the record id.
	ID string `json:"Id"`
	// FeatureParameterID is the id of the FeatureParameter record.
	FeatureParameterID string `json:"sfFma__FeatureParameter__c"`
	// LicenseID is the id of the License record.
	LicenseID string `json:"sfFma__License__c"`
	// Value is the raw value; read it with Bool, Int or Date by the parameter's DataType.
	Value json.RawMessage `json:"sfFma__Value__c"`
	// SystemModstamp moves on every change.
	SystemModstamp DateTime `json:"SystemModstamp"`
	// LastModifiedBy carries the name of the last user to change it, when selected.
	LastModifiedBy *Name `json:"LastModifiedBy"`
	// LastModifiedDate is when a user last changed it.
	LastModifiedDate DateTime `json:"LastModifiedDate"`
}

// FeatureParameterValueFields is the SOQL field list that fills every field of FeatureParameterValue.
const FeatureParameterValueFields = "Id, sfFma__FeatureParameter__c, sfFma__License__c, sfFma__Value__c, SystemModstamp, LastModifiedBy.Name, LastModifiedBy.Username, LastModifiedDate"

// IsNull reports whether the value is empty.
func (v FeatureParameterValue) IsNull() bool {
	t := bytes.TrimSpace(v.Value)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// Bool returns a Boolean parameter's value. Salesforce may also send it as "true"/"false" text.
func (v FeatureParameterValue) Bool() (bool, error) {
	if v.IsNull() {
		return false, fmt.Errorf("salesforce: feature parameter value is empty")
	}
	var b bool
	if err := json.Unmarshal(v.Value, &b); err == nil {
		return b, nil
	}
	var s string
	if err := json.Unmarshal(v.Value, &s); err == nil {
		switch strings.ToLower(s) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, fmt.Errorf("salesforce: feature parameter value %s is not a boolean", truncate(string(v.Value), 64))
}

// Int returns an Integer parameter's value (Salesforce sends numbers like 50.0; a fraction is an error).
func (v FeatureParameterValue) Int() (int64, error) {
	if v.IsNull() {
		return 0, fmt.Errorf("salesforce: feature parameter value is empty")
	}
	var f float64
	if err := json.Unmarshal(v.Value, &f); err != nil {
		var s string
		if json.Unmarshal(v.Value, &s) != nil {
			return 0, fmt.Errorf("salesforce: feature parameter value %s is not a number", truncate(string(v.Value), 64))
		}
		if err := json.Unmarshal([]byte(s), &f); err != nil {
			return 0, fmt.Errorf("salesforce: feature parameter value %s is not a number", truncate(string(v.Value), 64))
		}
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("salesforce: feature parameter value %s is not an integer", truncate(string(v.Value), 64))
	}
	return int64(f), nil
}

// Date returns a Date parameter's value.
func (v FeatureParameterValue) Date() (Date, error) {
	if v.IsNull() {
		return Date{}, fmt.Errorf("salesforce: feature parameter value is empty")
	}
	var d Date
	if err := json.Unmarshal(v.Value, &d); err != nil {
		return Date{}, fmt.Errorf("salesforce: feature parameter value %s is not a date", truncate(string(v.Value), 64))
	}
	return d, nil
}

// HistoryRow is one field change of a license (sfLma__License__History), for drift attribution.
type HistoryRow struct {
	// ID is the history row's id.
	ID string `json:"Id"`
	// ParentID is the license that changed.
	ParentID string `json:"ParentId"`
	// Field is the changed field's API name, or "created".
	Field string `json:"Field"`
	// OldValue is the value before the change (JSON: a number, string, boolean or null).
	OldValue json.RawMessage `json:"OldValue"`
	// NewValue is the value after the change.
	NewValue json.RawMessage `json:"NewValue"`
	// CreatedByID is the user who made the change.
	CreatedByID string `json:"CreatedById"`
	// CreatedBy carries that user's name when CreatedBy.Name is selected.
	CreatedBy *Name `json:"CreatedBy"`
	// CreatedDate is when the change was made.
	CreatedDate DateTime `json:"CreatedDate"`
}

// HistoryFields is the SOQL field list that fills every field of HistoryRow.
const HistoryFields = "Id, ParentId, Field, OldValue, NewValue, CreatedById, CreatedBy.Name, CreatedBy.Username, CreatedDate"

// ChangedBy is the name of the user who made the change, or "" if not selected.
func (h HistoryRow) ChangedBy() string {
	if h.CreatedBy == nil {
		return ""
	}
	return h.CreatedBy.Name
}

// ChangedByUsername is the username of the user who made the change, or "" if not selected.
func (h HistoryRow) ChangedByUsername() string {
	if h.CreatedBy == nil {
		return ""
	}
	return h.CreatedBy.Username
}
