package lmosim

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"sigs.k8s.io/yaml"
)

// Seed is the initial content of a simulated License Management Org, read from YAML.
type Seed struct {
	// Organization is the LMO itself, served as the Organization object.
	Organization SeedOrganization `json:"organization"`
	// APIDailyLimit is the DailyApiRequests maximum; 0 means 100,000.
	APIDailyLimit int64 `json:"apiDailyLimit,omitempty"`
	// StrictLicenseRules makes API writes obey the rules the LMA documents for its Modify License
	// page: an Uninstalled license is not editable, an Active license never goes back to Trial, a
	// trial lasts at most 90 days, and the status is one of Trial, Active or Suspended. The LMA
	// enforces them in that Visualforce page; the exported License object carries no validation
	// rule for them and its Status picklist is unrestricted, so the API may well accept such writes.
	// lmosim's default is that worst case (they are accepted), so that the operator's own guards are
	// what the tests prove; true gives the page's behaviour.
	StrictLicenseRules bool `json:"strictLicenseRules,omitempty"`
	// PerAppAPILimit is a daily allocation of the connected app, as an admin can set one per app;
	// 0 means none. With it, Sforce-Limit-Info carries a per-app-api-usage part after api-usage.
	// lmosim counts every client's calls against it (its clients stand for one connected app).
	PerAppAPILimit int64 `json:"perAppAPILimit,omitempty"`
	// ConnectedAppName names that app in the header; empty means lmo-operator.
	ConnectedAppName string `json:"connectedAppName,omitempty"`
	// TokenLifetime is how long access tokens stay valid; empty means two hours.
	TokenLifetime Duration `json:"tokenLifetime,omitempty"`
	// LMAInstalled is false to simulate an org without the License Management App (default true).
	LMAInstalled *bool `json:"lmaInstalled,omitempty"`
	// FMAInstalled is false to simulate an org without the Feature Management App (default true).
	FMAInstalled *bool `json:"fmaInstalled,omitempty"`
	// HistoryTracking is false to simulate field history tracking turned off for the License object:
	// sfLma__License__History then does not exist (describe 404, query INVALID_TYPE). Default true.
	HistoryTracking *bool `json:"historyTracking,omitempty"`
	// RecordTypes is false to simulate a License object without record types: RecordTypeId is then
	// absent (describe lists only Master, RecordType.Name in SOQL is INVALID_FIELD). Default true:
	// the LMA ships the record types Active, Trial, Suspended, Uninstalled and Expired.
	RecordTypes *bool `json:"recordTypes,omitempty"`
	// APIWritesKeepRecordType makes an API write of sfLma__Status__c leave the license's record type
	// as it is, so the status the LMA page shows (the record type's name) disagrees with the field.
	// Default false: the record type follows the status, as the Modify License page keeps them.
	// Whether a plain API write moves it is not documented; this switch is the other case.
	APIWritesKeepRecordType bool `json:"apiWritesKeepRecordType,omitempty"`
	// LicenseTypeField is false to simulate an LMA without sfLma__License_Type__c (describe lacks
	// it, SOQL selecting it is INVALID_FIELD). Default true.
	LicenseTypeField *bool `json:"licenseTypeField,omitempty"`
	// OrgStatusFields is false to simulate an LMA without the subscriber org status fields
	// (sfLma__Org_Status__c, sfLma__Trial_Expiration_Date__c and the fields under them), or a user
	// who cannot read them: describe lacks them and SOQL selecting them is INVALID_FIELD. Default true.
	OrgStatusFields *bool `json:"orgStatusFields,omitempty"`
	// ReadOnlyFields are fields (sfLma__Seats__c, sfFma__Value__c, …) that field-level security
	// leaves read-only for every API user: describe says updateable false and a write answers
	// INVALID_FIELD_FOR_INSERT_UPDATE.
	ReadOnlyFields []string `json:"readOnlyFields,omitempty"`
	// Clients are the connected-app clients, each a separate API user.
	Clients []SeedClient `json:"clients,omitempty"`
	// Packages are the managed packages associated with the LMO.
	Packages []SeedPackage `json:"packages,omitempty"`
	// Licenses are individual license records.
	Licenses []SeedLicense `json:"licenses,omitempty"`
	// Generate asks for many deterministic licenses at once.
	Generate []SeedGenerate `json:"generate,omitempty"`
}

// SeedOrganization describes the LMO's Organization record.
type SeedOrganization struct {
	ID              string  `json:"id,omitempty"`
	Name            string  `json:"name,omitempty"`
	Edition         string  `json:"edition,omitempty"` // served as Organization.OrganizationType
	IsSandbox       bool    `json:"isSandbox,omitempty"`
	TrialExpiration *string `json:"trialExpiration,omitempty"` // YYYY-MM-DD or null
	InstanceName    string  `json:"instanceName,omitempty"`
	// SiteURLs are Experience Cloud site URLs (https://acme.my.site.com) a JWT bearer assertion may
	// name as its audience, besides login.salesforce.com (production) or test.salesforce.com (sandbox).
	SiteURLs []string `json:"siteURLs,omitempty"`
}

// SeedClient is one OAuth client and the API user it authenticates as.
type SeedClient struct {
	ClientID     string `json:"clientID"`
	ClientSecret string `json:"clientSecret,omitempty"` // enables the client credentials flow
	Username     string `json:"username,omitempty"`
	Name         string `json:"name,omitempty"`        // the user's full name, shown as CreatedBy.Name in history
	Certificate  string `json:"certificate,omitempty"` // PEM certificate that verifies JWT bearer assertions
}

// SeedPackage is one managed package and its Partner Console defaults.
type SeedPackage struct {
	PackageID         string                 `json:"packageID"`
	Name              string                 `json:"name,omitempty"`
	LatestVersion     string                 `json:"latestVersion,omitempty"`
	DeveloperOrgID    string                 `json:"developerOrgID,omitempty"`
	Defaults          PackageDefaults        `json:"defaults,omitempty"`
	FeatureParameters []SeedFeatureParameter `json:"featureParameters,omitempty"`
}

// PackageDefaults are the license terms new installs get, as set in the Partner Console.
type PackageDefaults struct {
	Status     string `json:"status,omitempty"`     // Trial or Active; empty means Trial
	TrialDays  int    `json:"trialDays,omitempty"`  // with Trial; 0 means 30
	ActiveDays int    `json:"activeDays,omitempty"` // with Active; 0 means the license does not expire
	Seats      int64  `json:"seats,omitempty"`      // -1 is a site license; 0 means site license too
}

// SeedFeatureParameter is one feature parameter of a package.
type SeedFeatureParameter struct {
	FullName  string `json:"fullName"`
	DataType  string `json:"dataType"`            // Boolean, Integer or Date
	Direction string `json:"direction,omitempty"` // "LMO to Subscriber" (default) or "Subscriber to LMO"
}

// SeedLead is the Lead an install created: the person who installed (personal data the operator
// must never read) and their company.
type SeedLead struct {
	Company string `json:"company"`
	Name    string `json:"name,omitempty"`
	Email   string `json:"email,omitempty"`
}

// SeedLicense is one license record. Only packageID and subscriberOrgID are required.
type SeedLicense struct {
	ID              string  `json:"id,omitempty"`
	SubscriberOrgID string  `json:"subscriberOrgID"`
	PackageID       string  `json:"packageID"`
	Status          string  `json:"status,omitempty"` // default from the package defaults
	Seats           *int64  `json:"seats,omitempty"`
	Expiration      *string `json:"expiration,omitempty"` // YYYY-MM-DD, "1970-01-01" or null
	UsedLicenses    int64   `json:"usedLicenses,omitempty"`
	Edition         string  `json:"edition,omitempty"`
	IsSandbox       bool    `json:"isSandbox,omitempty"`
	Version         string  `json:"version,omitempty"`
	InstallDate     string  `json:"installDate,omitempty"`
	OrgInstance     string  `json:"orgInstance,omitempty"`
	// RecordType is the license's record type (Active, Trial, Suspended, Uninstalled or Expired);
	// default the one named like the status; "none" leaves the license without one.
	RecordType string `json:"recordType,omitempty"`
	// LicenseType is sfLma__License_Type__c: empty or Editable for an ordinary license; any other
	// value (Read-Only, as for a license AppExchange Checkout provisions) makes API writes change
	// nothing (refused with strictLicenseRules).
	LicenseType string `json:"licenseType,omitempty"`
	// Account names the customer's account (a converted lead): an Account of that name is created
	// once and the license's sfLma__Account__c points at it.
	Account string `json:"account,omitempty"`
	// Lead is the lead the install created; without it the license's lead lookup is empty.
	Lead *SeedLead `json:"lead,omitempty"`
	// OrgStatus is sfLma__Org_Status__c: ACTIVE, TRIAL, FREE, DELETED, PENDING_DELETE, … (text).
	OrgStatus string `json:"orgStatus,omitempty"`
	// OrgTrialExpiration is the trial subscriber org's expiration as text (at most 15 characters).
	OrgTrialExpiration string `json:"orgTrialExpiration,omitempty"`
	// LastModifiedBy is the clientID whose user last edited the record (default: the License Manager).
	LastModifiedBy string `json:"lastModifiedBy,omitempty"`
	// FeatureParameters are values by full name: booleans, integers or YYYY-MM-DD strings.
	FeatureParameters map[string]any `json:"featureParameters,omitempty"`
}

// SeedGenerate asks for count deterministic licenses of a package.
type SeedGenerate struct {
	PackageID string `json:"packageID"`
	Count     int    `json:"count"`
	// RandomSeed varies the generated fleet; the same value always gives the same licenses.
	RandomSeed int64 `json:"randomSeed,omitempty"`
}

// Duration is a time.Duration written as a Go duration string ("2h", "90s") in YAML and JSON.
type Duration struct{ time.Duration }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"2h\": %w", err)
	}
	if s == "" {
		d.Duration = 0
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalJSON writes a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	if d.Duration == 0 {
		return []byte(`""`), nil
	}
	return json.Marshal(d.String())
}

// ParseSeed reads a seed from YAML. Unknown keys are errors that name the key.
func ParseSeed(data []byte) (*Seed, error) {
	var s Seed
	if err := yaml.UnmarshalStrict(data, &s); err != nil {
		return nil, fmt.Errorf("parsing seed: %w", err)
	}
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("invalid seed: %w", err)
	}
	return &s, nil
}

// LoadSeed reads a seed file.
func LoadSeed(path string) (*Seed, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := ParseSeed(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

func (s *Seed) validate() error {
	if s.Organization.ID != "" && !validID(to18(s.Organization.ID), prefixOrg) {
		return fmt.Errorf("organization.id %q is not a 15 or 18 character 00D id", s.Organization.ID)
	}
	if s.Organization.TrialExpiration != nil {
		if _, ok := parseDate(*s.Organization.TrialExpiration); !ok {
			return fmt.Errorf("organization.trialExpiration %q is not YYYY-MM-DD", *s.Organization.TrialExpiration)
		}
	}
	if s.APIDailyLimit < 0 {
		return fmt.Errorf("apiDailyLimit must not be negative")
	}
	if s.PerAppAPILimit < 0 {
		return fmt.Errorf("perAppAPILimit must not be negative")
	}
	seenClient := map[string]bool{}
	for i, c := range s.Clients {
		if c.ClientID == "" {
			return fmt.Errorf("clients[%d].clientID is required", i)
		}
		if seenClient[c.ClientID] {
			return fmt.Errorf("clients[%d].clientID %q is given twice", i, c.ClientID)
		}
		seenClient[c.ClientID] = true
		if c.Certificate != "" {
			if _, err := parseCertificateKey(c.Certificate); err != nil {
				return fmt.Errorf("clients[%d].certificate: %w", i, err)
			}
		}
	}
	params := map[string]map[string]string{} // packageID -> fullName -> dataType
	for i, p := range s.Packages {
		if !validID(to18(p.PackageID), "033") {
			return fmt.Errorf("packages[%d].packageID %q is not a 15 or 18 character 033 id", i, p.PackageID)
		}
		if _, dup := params[to18(p.PackageID)]; dup {
			return fmt.Errorf("packages[%d].packageID %q is given twice", i, p.PackageID)
		}
		if err := p.Defaults.validate(); err != nil {
			return fmt.Errorf("packages[%d].defaults: %w", i, err)
		}
		m := map[string]string{}
		for j, fp := range p.FeatureParameters {
			switch fp.DataType {
			case "Boolean", "Integer", "Date":
			default:
				return fmt.Errorf("packages[%d].featureParameters[%d].dataType %q is not Boolean, Integer or Date", i, j, fp.DataType)
			}
			switch fp.Direction {
			case "", "LMO to Subscriber", "Subscriber to LMO":
			default:
				return fmt.Errorf("packages[%d].featureParameters[%d].direction %q is not \"LMO to Subscriber\" or \"Subscriber to LMO\"", i, j, fp.Direction)
			}
			if fp.FullName == "" || m[fp.FullName] != "" {
				return fmt.Errorf("packages[%d].featureParameters[%d].fullName %q is empty or given twice", i, j, fp.FullName)
			}
			m[fp.FullName] = fp.DataType
		}
		params[to18(p.PackageID)] = m
	}
	ids := map[string]bool{}
	for i, l := range s.Licenses {
		where := fmt.Sprintf("licenses[%d]", i)
		if l.ID != "" {
			id := to18(l.ID)
			if !validID(id, prefixLicense) {
				return fmt.Errorf("%s.id %q is not a 15 or 18 character a0N id", where, l.ID)
			}
			if ids[id] {
				return fmt.Errorf("%s.id %q is given twice", where, l.ID)
			}
			ids[id] = true
		}
		pp, ok := params[to18(l.PackageID)]
		if !ok {
			return fmt.Errorf("%s.packageID %q is not one of the packages", where, l.PackageID)
		}
		if l.SubscriberOrgID == "" {
			return fmt.Errorf("%s.subscriberOrgID is required", where)
		}
		// The License object's Status picklist is not restricted: a record may hold a value the LMA
		// does not define (a renamed value, an import), and the operator must cope with it.
		if len(l.Status) > 255 {
			return fmt.Errorf("%s.status is longer than 255 characters", where)
		}
		if l.RecordType != "" && l.RecordType != "none" && !validRecordType(l.RecordType) {
			return fmt.Errorf("%s.recordType %q is not Active, Trial, Suspended, Uninstalled, Expired or none", where, l.RecordType)
		}
		if len(l.LicenseType) > 255 {
			return fmt.Errorf("%s.licenseType is longer than 255 characters", where)
		}
		if len(l.Account) > maxAccountName {
			return fmt.Errorf("%s.account is longer than %d characters (Account.Name)", where, maxAccountName)
		}
		if l.Lead != nil && (l.Lead.Company == "" || len(l.Lead.Company) > maxCompany) {
			return fmt.Errorf("%s.lead.company is required and at most %d characters (Lead.Company)", where, maxCompany)
		}
		if err := validateOrgState(where+".", &l.OrgStatus, &l.OrgTrialExpiration); err != nil {
			return err
		}
		if l.Seats != nil && *l.Seats != -1 && (*l.Seats < 1 || *l.Seats > maxSeats) {
			return fmt.Errorf("%s.seats %d is not -1 or 1..99000000", where, *l.Seats)
		}
		if l.Expiration != nil {
			if _, ok := parseDate(*l.Expiration); !ok {
				return fmt.Errorf("%s.expiration %q is not YYYY-MM-DD", where, *l.Expiration)
			}
		}
		if l.InstallDate != "" {
			if _, ok := parseDate(l.InstallDate); !ok {
				return fmt.Errorf("%s.installDate %q is not YYYY-MM-DD", where, l.InstallDate)
			}
		}
		if l.LastModifiedBy != "" && !seenClient[l.LastModifiedBy] {
			return fmt.Errorf("%s.lastModifiedBy %q is not a clientID", where, l.LastModifiedBy)
		}
		for name, v := range l.FeatureParameters {
			dt, ok := pp[name]
			if !ok {
				return fmt.Errorf("%s.featureParameters: %q is not a feature parameter of package %s", where, name, l.PackageID)
			}
			if _, err := seedParamValue(dt, v); err != nil {
				return fmt.Errorf("%s.featureParameters.%s: %w", where, name, err)
			}
		}
	}
	for i, g := range s.Generate {
		if _, ok := params[to18(g.PackageID)]; !ok {
			return fmt.Errorf("generate[%d].packageID %q is not one of the packages", i, g.PackageID)
		}
		if g.Count < 0 || g.Count > 2_000_000 {
			return fmt.Errorf("generate[%d].count %d is not 0..2000000", i, g.Count)
		}
	}
	return nil
}

func (d PackageDefaults) validate() error {
	switch d.Status {
	case "", "Trial", "Active":
	default:
		return fmt.Errorf("status %q is not Trial or Active", d.Status)
	}
	if d.TrialDays < 0 || d.TrialDays > 90 {
		return fmt.Errorf("trialDays %d is not 1..90", d.TrialDays)
	}
	if d.ActiveDays < 0 {
		return fmt.Errorf("activeDays must not be negative")
	}
	if d.Seats != -1 && (d.Seats < 0 || d.Seats > maxSeats) {
		return fmt.Errorf("seats %d is not -1 or 1..99000000", d.Seats)
	}
	return nil
}

// seedParamValue checks a seed's feature parameter value against the parameter's data type.
func seedParamValue(dataType string, v any) (val, error) {
	if v == nil {
		if dataType == "Boolean" {
			return boolean(false), nil
		}
		return null, nil
	}
	switch dataType {
	case "Boolean":
		if b, ok := v.(bool); ok {
			return boolean(b), nil
		}
	case "Integer":
		if n, ok := v.(float64); ok && n == float64(int64(n)) {
			return num(n), nil
		}
	case "Date":
		if s, ok := v.(string); ok {
			if d, ok := parseDate(s); ok {
				return date(d), nil
			}
		}
	}
	return null, fmt.Errorf("value %v is not a %s", v, dataType)
}
