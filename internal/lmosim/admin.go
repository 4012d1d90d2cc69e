package lmosim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// InstallRequest is the body of POST /__sim/installs: a subscriber org installs a package.
type InstallRequest struct {
	PackageID       string `json:"packageID"`
	SubscriberOrgID string `json:"subscriberOrgID"`
	Edition         string `json:"edition,omitempty"`
	IsSandbox       bool   `json:"isSandbox,omitempty"`
	// Version defaults to the package's latest version.
	Version string `json:"version,omitempty"`
	// Company is the company of the Lead the install creates; empty: no Lead record.
	Company string `json:"company,omitempty"`
	// OrgStatus is the subscriber org's status the License records (e.g. ACTIVE or TRIAL).
	OrgStatus string `json:"orgStatus,omitempty"`
}

// License is the admin API's view of a license record and its feature parameter values.
type License struct {
	ID                string         `json:"id"`
	Name              string         `json:"name"`
	Status            string         `json:"status"`
	Seats             float64        `json:"seats"`
	Expiration        *string        `json:"expiration"`
	SubscriberOrgID   string         `json:"subscriberOrgID"`
	PackageID         string         `json:"packageID"`
	PackageRecordID   string         `json:"packageRecordID"`
	Version           string         `json:"version"`
	UsedLicenses      float64        `json:"usedLicenses"`
	Edition           string         `json:"edition"`
	IsSandbox         bool           `json:"isSandbox"`
	InstallDate       string         `json:"installDate"`
	OrgInstance       string         `json:"orgInstance"`
	LeadID            string         `json:"leadID,omitempty"`
	LastModifiedBy    string         `json:"lastModifiedBy"` // the user's name
	LastModifiedDate  string         `json:"lastModifiedDate"`
	SystemModstamp    string         `json:"systemModstamp"`
	FeatureParameters map[string]any `json:"featureParameters"`
	// FeatureParameterRecords are the ids of the license's feature parameter value records, by full
	// name: a test that watches the REST API's writes tells which license a value record belongs to.
	FeatureParameterRecords map[string]string `json:"featureParameterRecords,omitempty"`
	// RecordType is the record type's name ("" for none): the status the LMA page shows.
	RecordType string `json:"recordType"`
	// LicenseType is sfLma__License_Type__c.
	LicenseType string `json:"licenseType"`
	// Customer is the account's name, else the lead's company.
	Customer string `json:"customer,omitempty"`
	// OrgStatus is sfLma__Org_Status__c.
	OrgStatus string `json:"orgStatus,omitempty"`
	// OrgTrialExpiration is the trial subscriber org's expiration (text).
	OrgTrialExpiration string `json:"orgTrialExpiration,omitempty"`
}

// errNotFound and errConflict map admin errors to 404 and 409.
var (
	errNotFound = errors.New("not found")
	errConflict = errors.New("conflict")
)

func (s *Server) licenseView(l *licenseRec) License {
	st := s.st
	out := License{ID: l.ID, Name: l.Name, Status: l.Status, Seats: l.Seats, SubscriberOrgID: l.SubscriberOrgID,
		PackageRecordID: l.PackageRecID, Version: l.VersionNumber, UsedLicenses: l.UsedLicenses, Edition: l.OrgType,
		IsSandbox: l.IsSandbox, InstallDate: l.InstallDate, OrgInstance: l.OrgInstance, LeadID: l.LeadID,
		LastModifiedDate: formatDateTime(l.Modified), SystemModstamp: formatDateTime(l.Modstamp), FeatureParameters: map[string]any{},
		FeatureParameterRecords: map[string]string{}, RecordType: l.RecordType, LicenseType: l.LicenseType,
		Customer: st.customerName(l), OrgStatus: l.OrgStatus, OrgTrialExpiration: l.OrgTrialExpiration}
	if l.Expiration != "" {
		e := l.Expiration
		out.Expiration = &e
	}
	if p := st.pkg(l.PackageRecID); p != nil {
		out.PackageID = p.PackageID
	}
	if u := st.user(l.ModifiedBy); u != nil {
		out.LastModifiedBy = u.Name
	}
	for _, v := range l.values {
		if p := st.param(v.ParamID); p != nil {
			out.FeatureParameterRecords[p.FullName] = v.ID
			x := v.value()
			switch x.K {
			case kBool:
				out.FeatureParameters[p.FullName] = x.B
			case kNumber:
				out.FeatureParameters[p.FullName] = x.N
			case kDate:
				out.FeatureParameters[p.FullName] = x.S
			default:
				out.FeatureParameters[p.FullName] = nil
			}
		}
	}
	return out
}

func (s *Server) systemUserID() string { return s.st.users[0].ID }

// Install simulates a subscriber installing a package: a new license with the package's default
// terms (a site license in a sandbox), a Lead, and a "created" history row.
func (s *Server) Install(in InstallRequest) (License, error) {
	if in.SubscriberOrgID == "" {
		return License{}, fmt.Errorf("subscriberOrgID is required")
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	p := st.packageByPackageID(to18(in.PackageID))
	if p == nil {
		return License{}, fmt.Errorf("%w: package %q is not associated with this LMO", errNotFound, in.PackageID)
	}
	if len(in.Company) > maxCompany {
		return License{}, fmt.Errorf("company is longer than %d characters (Lead.Company)", maxCompany)
	}
	if err := validateOrgState("", &in.OrgStatus, nil); err != nil {
		return License{}, err
	}
	l := newLicense(st, p, in.SubscriberOrgID, in.Edition, in.IsSandbox, now.UTC().Format(dateLayout))
	l.ID = st.newID(prefixLicense)
	l.LeadID = st.newID(prefixLead)
	l.OrgStatus = in.OrgStatus
	sys := s.systemUserID()
	if in.Version != "" {
		v := st.versionFor(p, in.Version, secondStamp(now), sys)
		l.VersionRecID, l.VersionNumber = v.ID, v.VersionNumber
	}
	at := st.stamp(now)
	l.audit = audit{Created: at, CreatedBy: sys, Modified: at, ModifiedBy: sys, Modstamp: at}
	st.addLicense(l)
	if in.Company != "" {
		st.addLead(&leadRec{ID: l.LeadID, Company: in.Company, audit: l.audit})
	}
	st.addHistory(l.ID, "created", null, null, sys, at)
	for _, pr := range st.paramsOf(p.ID) {
		st.addValue(newValue(st, pr, l, l.audit))
	}
	s.changed()
	return s.licenseView(l), nil
}

// Upgrade moves a license to another package version; the license record stays the same.
func (s *Server) Upgrade(licenseID, version string) (License, error) {
	if version == "" {
		return License{}, fmt.Errorf("version is required")
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	l := st.license(to18(licenseID))
	if l == nil {
		return License{}, fmt.Errorf("%w: license %q", errNotFound, licenseID)
	}
	if l.Status == "Uninstalled" {
		return License{}, fmt.Errorf("%w: license %s is uninstalled", errConflict, l.ID)
	}
	p := st.pkg(l.PackageRecID)
	sys := s.systemUserID()
	if l.VersionNumber != version {
		v := st.versionFor(p, version, secondStamp(now), sys)
		at := touch(st, l, sys, now)
		st.addHistory(l.ID, "sfLma__Version_Number__c", optStr(l.VersionNumber), str(version), sys, at)
		l.VersionRecID, l.VersionNumber = v.ID, v.VersionNumber
		if versionLess(p.LatestVersion, version) {
			p.LatestVersion = version
			touch(st, p, sys, now)
		}
		s.changed()
	}
	return s.licenseView(l), nil
}

// versionLess compares dotted version numbers numerically.
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// Uninstall simulates the subscriber uninstalling the package: the license becomes Uninstalled.
func (s *Server) Uninstall(licenseID string) (License, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	l := st.license(to18(licenseID))
	if l == nil {
		return License{}, fmt.Errorf("%w: license %q", errNotFound, licenseID)
	}
	if l.Status == "Uninstalled" {
		return License{}, fmt.Errorf("%w: license %s is already uninstalled", errConflict, l.ID)
	}
	sys := s.systemUserID()
	at := touch(st, l, sys, now)
	st.addHistory(l.ID, fStatus, str(l.Status), str("Uninstalled"), sys, at)
	l.Status = "Uninstalled"
	l.RecordType = "Uninstalled"
	s.changed()
	return s.licenseView(l), nil
}

// SubscriberUpdate is the body of PATCH /__sim/licenses/ID: what the subscriber org reports, and
// the changes Salesforce makes to a license outside the REST API.
type SubscriberUpdate struct {
	UsedLicenses *float64 `json:"usedLicenses,omitempty"`
	// LicenseType sets sfLma__License_Type__c, as when AppExchange Checkout takes a license over
	// (Read-Only) or gives it back ("").
	LicenseType *string `json:"licenseType,omitempty"`
	// RecordType moves the license to a record type (Active, Trial, Suspended, Uninstalled, Expired,
	// or none), as the LMA does when a license expires.
	RecordType *string `json:"recordType,omitempty"`
	// FeatureParameters sets values by full name, typically Subscriber-to-LMO parameters.
	FeatureParameters map[string]any `json:"featureParameters,omitempty"`
	// OrgStatus sets sfLma__Org_Status__c, as when the subscriber org is deleted (DELETED,
	// PENDING_DELETE) or its trial converts (TRIAL to ACTIVE).
	OrgStatus *string `json:"orgStatus,omitempty"`
	// OrgTrialExpiration sets the trial subscriber org's expiration (text, at most 15 characters).
	OrgTrialExpiration *string `json:"orgTrialExpiration,omitempty"`
	// Account names the account the lead was converted into (created once by name); "" clears it.
	Account *string `json:"account,omitempty"`
}

// UpdateFromSubscriber applies values reported by the subscriber org, as the License Manager user.
func (s *Server) UpdateFromSubscriber(licenseID string, in SubscriberUpdate) (License, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	l := st.license(to18(licenseID))
	if l == nil {
		return License{}, fmt.Errorf("%w: license %q", errNotFound, licenseID)
	}
	if in.RecordType != nil && *in.RecordType != "" && *in.RecordType != "none" && !validRecordType(*in.RecordType) {
		return License{}, fmt.Errorf("recordType %q is not Active, Trial, Suspended, Uninstalled, Expired or none", *in.RecordType)
	}
	if in.LicenseType != nil && len(*in.LicenseType) > 255 {
		return License{}, fmt.Errorf("licenseType is longer than 255 characters")
	}
	if err := validateOrgState("", in.OrgStatus, in.OrgTrialExpiration); err != nil {
		return License{}, err
	}
	if in.Account != nil && len(*in.Account) > maxAccountName {
		return License{}, fmt.Errorf("account is longer than %d characters (Account.Name)", maxAccountName)
	}
	sys := s.systemUserID()
	type pending struct {
		v *valueRec
		x val
	}
	var sets []pending
	for name, raw := range in.FeatureParameters {
		var target *valueRec
		for _, v := range l.values {
			if p := st.param(v.ParamID); p != nil && p.FullName == name {
				target = v
			}
		}
		if target == nil {
			return License{}, fmt.Errorf("%q is not a feature parameter of this license's package", name)
		}
		x, err := seedParamValue(target.Type, raw)
		if err != nil {
			return License{}, fmt.Errorf("%s: %w", name, err)
		}
		sets = append(sets, pending{target, x})
	}
	for _, p := range sets {
		if !p.v.value().equal(p.x) {
			p.v.set(p.x)
			touch(st, p.v, sys, now)
		}
	}
	if in.UsedLicenses != nil && *in.UsedLicenses != l.UsedLicenses {
		l.UsedLicenses = *in.UsedLicenses
		touch(st, l, sys, now)
	}
	if in.LicenseType != nil && *in.LicenseType != l.LicenseType {
		l.LicenseType = *in.LicenseType
		touch(st, l, sys, now)
	}
	if in.OrgStatus != nil && *in.OrgStatus != l.OrgStatus {
		l.OrgStatus = *in.OrgStatus
		touch(st, l, sys, now)
	}
	if in.OrgTrialExpiration != nil && *in.OrgTrialExpiration != l.OrgTrialExpiration {
		l.OrgTrialExpiration = *in.OrgTrialExpiration
		touch(st, l, sys, now)
	}
	if in.Account != nil {
		id := ""
		if *in.Account != "" {
			at := st.stamp(now)
			id = st.accountNamed(*in.Account, audit{Created: at, CreatedBy: sys, Modified: at, ModifiedBy: sys, Modstamp: at}).ID
		}
		if id != l.AccountID {
			l.AccountID = id
			touch(st, l, sys, now)
		}
	}
	if in.RecordType != nil {
		rt := *in.RecordType
		if rt == "none" {
			rt = ""
		}
		if rt != l.RecordType {
			l.RecordType = rt
			touch(st, l, sys, now)
		}
	}
	s.changed()
	return s.licenseView(l), nil
}

// GetLicense returns a license as the admin API shows it.
func (s *Server) GetLicense(id string) (License, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	l := s.st.license(to18(id))
	if l == nil {
		return License{}, false
	}
	return s.licenseView(l), true
}

// AddFault injects a fault, as POST /__sim/faults does.
func (s *Server) AddFault(f Fault) error { return s.addFault(f, s.now()) }

// ClearFaults removes every fault, as DELETE /__sim/faults does.
func (s *Server) ClearFaults() { s.clearFaults() }

// ResetStats zeroes the call counters.
func (s *Server) ResetStats() { s.stats.init() }

// SetAPIUsage sets the number of API calls used today, to test a nearly exhausted budget.
func (s *Server) SetAPIUsage(used int64) { s.apiUsed.Store(max(0, used)) }

// SetAppAPIUsage sets the calls counted against the connected app's own allocation.
func (s *Server) SetAppAPIUsage(used int64) { s.appUsed.Store(max(0, used)) }

func adminError(w http.ResponseWriter, err error) {
	status := http.StatusBadRequest
	switch {
	case errors.Is(err, errNotFound):
		status = http.StatusNotFound
	case errors.Is(err, errConflict):
		status = http.StatusConflict
	}
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

func decodeAdmin(r *http.Request, into any) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return fmt.Errorf("bad request body: %w", err)
	}
	return nil
}

// adminGuard refuses an admin request a web page could have sent. The admin API has no
// authentication, so what keeps a page in the developer's browser from driving it is that (1) every
// request but GET and HEAD must declare Content-Type application/json, which a browser sends
// cross-origin only after a CORS preflight lmosim never answers, and (2) the Host must be a
// loopback name or address, which a DNS-rebinding page (its own name pointed at 127.0.0.1) cannot
// forge. It reports whether the request may go on.
func adminGuard(w http.ResponseWriter, r *http.Request) bool {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if !loopbackHost(host) {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "the admin API answers only requests addressed to a loopback host (localhost, 127.0.0.1, [::1]), not " + strconv.Quote(r.Host)})
		return false
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": r.Method + " requests to the admin API must have Content-Type application/json"})
		return false
	}
	return true
}

// loopbackHost reports whether host is localhost or a loopback IP address.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// serveAdmin is the /__sim/ API: no authentication (see adminGuard), not counted as API calls.
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	if !adminGuard(w, r) {
		return
	}
	path := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/__sim/"), "/")
	route := r.Method + " " + path
	if strings.HasPrefix(path, "licenses/") {
		route = r.Method + " licenses/ID"
	}
	switch route {
	case "POST installs":
		var in InstallRequest
		if err := decodeAdmin(r, &in); err != nil {
			adminError(w, err)
			return
		}
		l, err := s.Install(in)
		if err != nil {
			adminError(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, l)
	case "POST upgrades":
		var in struct {
			LicenseID string `json:"licenseID"`
			Version   string `json:"version"`
		}
		if err := decodeAdmin(r, &in); err != nil {
			adminError(w, err)
			return
		}
		l, err := s.Upgrade(in.LicenseID, in.Version)
		if err != nil {
			adminError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, l)
	case "POST uninstalls":
		var in struct {
			LicenseID string `json:"licenseID"`
		}
		if err := decodeAdmin(r, &in); err != nil {
			adminError(w, err)
			return
		}
		l, err := s.Uninstall(in.LicenseID)
		if err != nil {
			adminError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, l)
	case "GET licenses/ID", "PATCH licenses/ID":
		id := strings.TrimPrefix(path, "licenses/")
		if r.Method == http.MethodPatch {
			var in SubscriberUpdate
			if err := decodeAdmin(r, &in); err != nil {
				adminError(w, err)
				return
			}
			l, err := s.UpdateFromSubscriber(id, in)
			if err != nil {
				adminError(w, err)
				return
			}
			writeJSON(w, http.StatusOK, l)
			return
		}
		l, ok := s.GetLicense(id)
		if !ok {
			adminError(w, fmt.Errorf("%w: license %q", errNotFound, id))
			return
		}
		writeJSON(w, http.StatusOK, l)
	case "POST faults":
		var f Fault
		if err := decodeAdmin(r, &f); err != nil {
			adminError(w, err)
			return
		}
		if err := s.AddFault(f); err != nil {
			adminError(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, f)
	case "DELETE faults":
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	case "GET faults":
		writeJSON(w, http.StatusOK, s.listFaults())
	case "GET stats":
		writeJSON(w, http.StatusOK, s.Stats())
	case "POST stats/reset":
		s.ResetStats()
		w.WriteHeader(http.StatusNoContent)
	case "POST usage":
		var in struct {
			Used *int64 `json:"used"`
		}
		if err := decodeAdmin(r, &in); err != nil || in.Used == nil {
			adminError(w, fmt.Errorf("body must be {\"used\": n}"))
			return
		}
		s.SetAPIUsage(*in.Used)
		writeJSON(w, http.StatusOK, map[string]int64{"used": s.apiUsed.Load(), "max": s.apiMax})
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no admin endpoint " + route})
	}
}
