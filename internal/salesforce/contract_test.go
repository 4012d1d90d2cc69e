package salesforce_test

// Contract tests: the client against a real lmosim on a loopback port, for every operation and
// every error path the operator relies on.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lmo-operator/lmo-operator/internal/lmosim"
	sf "github.com/lmo-operator/lmo-operator/internal/salesforce"
	"github.com/lmo-operator/lmo-operator/internal/testenv"
)

const (
	pkgApp      = "033000000000001AAA"
	pkgFleet    = "033000000000002AAA"
	licActive   = "a0N000000000001AAA"
	licTrial    = "a0N000000000002AAA"
	licUninst   = "a0N000000000003AAA"
	licSuspend  = "a0N000000000004AAA"
	ccClientID  = "lmo-operator"
	ccSecret    = "s3cret-operator-secret"
	jwtClientID = "lmo-operator-jwt"
	jwtUser     = "integration@acme.example"
	fleetSize   = 2412
)

// keys are generated once per test binary: the JWT client's key and a stranger's.
var keys = sync.OnceValues(func() (*rsa.PrivateKey, *rsa.PrivateKey) {
	a, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	b, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return a, b
})

func keyPEM(k *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

func certPEM(t *testing.T, k *rsa.PrivateKey) string {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "lmo-operator"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// sim is a running lmosim and what tests need to reach it.
type sim struct {
	t    *testing.T
	srv  *lmosim.Server
	base string
}

// startSim seeds and starts lmosim; the seed is built as JSON, which YAML accepts.
func startSim(t *testing.T, mutate func(seed map[string]any)) *sim {
	t.Helper()
	key, _ := keys()
	seed := map[string]any{
		"organization":  map[string]any{"id": "00D000000000001AAA", "name": "Acme ISV", "edition": "Enterprise Edition", "isSandbox": false, "instanceName": "NA1"},
		"apiDailyLimit": 100000,
		"clients": []map[string]any{
			{"clientID": ccClientID, "clientSecret": ccSecret, "username": "operator@acme.example", "name": "Operator User"},
			{"clientID": jwtClientID, "username": jwtUser, "name": "Integration User", "certificate": certPEM(t, key)},
			{"clientID": "lmo-admin", "clientSecret": "admin-secret", "username": "dana@acme.example", "name": "Dana Admin"},
		},
		"packages": []map[string]any{
			{"packageID": pkgApp, "name": "Acme App", "latestVersion": "1.4.0",
				"defaults": map[string]any{"status": "Trial", "trialDays": 30, "seats": 10},
				"featureParameters": []map[string]any{
					{"fullName": "acme__MaxProjects", "dataType": "Integer", "direction": "LMO to Subscriber"},
					{"fullName": "acme__AdvancedReporting", "dataType": "Boolean", "direction": "LMO to Subscriber"},
					{"fullName": "acme__SupportUntil", "dataType": "Date", "direction": "LMO to Subscriber"},
					{"fullName": "acme__ActiveUsers", "dataType": "Integer", "direction": "Subscriber to LMO"},
				}},
			{"packageID": pkgFleet, "name": "Fleet App", "latestVersion": "2.0.0", "defaults": map[string]any{"status": "Active", "seats": 25}},
		},
		"licenses": []map[string]any{
			{"id": licActive, "subscriberOrgID": "00D5g000004XyZ1AAA", "packageID": pkgApp, "status": "Active", "seats": 50, "expiration": "2027-06-30",
				"usedLicenses": 12, "edition": "Enterprise Edition", "version": "1.4.0",
				"featureParameters": map[string]any{"acme__MaxProjects": 20, "acme__AdvancedReporting": true, "acme__SupportUntil": "2027-06-30", "acme__ActiveUsers": 7}},
			{"id": licTrial, "subscriberOrgID": "00D5g000004AbC2AAA", "packageID": pkgApp, "status": "Trial", "seats": 10, "expiration": time.Now().AddDate(0, 0, 20).Format(time.DateOnly)},
			{"id": licUninst, "subscriberOrgID": "00D5g000004Unin3AAA", "packageID": pkgApp, "status": "Uninstalled", "seats": 5},
			{"id": licSuspend, "subscriberOrgID": "00D5g000004Susp4AAA", "packageID": pkgApp, "status": "Suspended", "seats": -1, "expiration": "1970-01-01"},
		},
		"generate": []map[string]any{{"packageID": pkgFleet, "count": fleetSize}},
	}
	if mutate != nil {
		mutate(seed)
	}
	data, err := json.Marshal(seed)
	if err != nil {
		t.Fatal(err)
	}
	srv, base := testenv.StartSim(t, string(data), lmosim.Options{})
	return &sim{t: t, srv: srv, base: base}
}

// admin calls lmosim's admin API.
func (s *sim) admin(method, path string, body any) []byte {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.base+"/__sim/"+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		s.t.Fatalf("admin %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		s.t.Fatalf("admin %s %s: %d %s", method, path, resp.StatusCode, out)
	}
	return out
}

func (s *sim) fault(f map[string]any) { s.t.Helper(); s.admin(http.MethodPost, "faults", f) }

func (s *sim) calls() map[string]int64 {
	s.t.Helper()
	var st struct {
		Calls map[string]int64 `json:"calls"`
	}
	if err := json.Unmarshal(s.admin(http.MethodGet, "stats", nil), &st); err != nil {
		s.t.Fatal(err)
	}
	return st.Calls
}

func (s *sim) resetStats() { s.t.Helper(); s.admin(http.MethodPost, "stats/reset", nil) }

func (s *sim) ccConfig() sf.Config {
	return sf.Config{InstanceURL: s.base, ClientCredentials: &sf.ClientCredentials{ClientID: ccClientID, ClientSecret: ccSecret}}
}

func (s *sim) jwtConfig(key *rsa.PrivateKey) sf.Config {
	return sf.Config{InstanceURL: s.base, JWTBearer: &sf.JWTBearer{ClientID: jwtClientID, Username: jwtUser, PrivateKeyPEM: keyPEM(key)}}
}

func (s *sim) client(cfg sf.Config) *sf.Client {
	s.t.Helper()
	c, err := sf.New(ctxFor(s.t), cfg)
	if err != nil {
		s.t.Fatalf("New: %v", err)
	}
	return c
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// queryAll collects every record of a query.
func queryAll[T any](t *testing.T, c *sf.Client, soql string, opts ...sf.QueryOption) ([]T, int, error) {
	t.Helper()
	var out []T
	pages := 0
	err := sf.Query(ctxFor(t), c, soql, func(p []T) error {
		pages++
		out = append(out, p...)
		return nil
	}, opts...)
	return out, pages, err
}

func TestContractReads(t *testing.T) {
	s := startSim(t, nil)
	var mu sync.Mutex
	observed := map[string]int64{}
	cfg := s.ccConfig()
	cfg.OnCall = func(ci sf.CallInfo) {
		mu.Lock()
		defer mu.Unlock()
		observed[ci.Operation]++
	}
	c := s.client(cfg)
	ctx := ctxFor(t)

	vs, err := c.Versions(ctx)
	if err != nil || len(vs) == 0 {
		t.Fatalf("Versions: %v %v", vs, err)
	}
	org, err := c.Organization(ctx)
	if err != nil {
		t.Fatalf("Organization: %v", err)
	}
	if org.ID != "00D000000000001AAA" || org.Name != "Acme ISV" || org.OrganizationType != "Enterprise Edition" || org.IsSandbox || !org.TrialExpirationDate.IsZero() {
		t.Errorf("Organization = %+v", org)
	}
	lim, err := c.Limits(ctx)
	if err != nil || lim.DailyAPIRequests.Max != 100000 || lim.DailyAPIRequests.Remaining <= 0 {
		t.Fatalf("Limits = %+v, %v", lim, err)
	}
	d, err := c.Describe(ctx, sf.LicenseObject)
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	if f, ok := d.Field(sf.FieldStatus); !ok || !f.Updateable || len(f.PicklistValues) == 0 {
		t.Errorf("describe of status: %+v", f)
	}
	if f, ok := d.Field("sfLma__Used_Licenses__c"); !ok || f.Updateable {
		t.Errorf("used licenses should be read-only: %+v", f)
	}

	var l sf.License
	if err := c.GetRecord(ctx, sf.LicenseObject, licActive, &l); err != nil {
		t.Fatalf("GetRecord: %v", err)
	}
	if l.Status != sf.StatusActive || l.Seats == nil || *l.Seats != 50 || l.Expiration.String() != "2027-06-30" || *l.UsedLicenses != 12 {
		t.Errorf("GetRecord = %+v", l)
	}
	if err := c.GetRecord(ctx, sf.LicenseObject, "a0N000000000999AAA", &l); !sf.IsNotFound(err) {
		t.Errorf("GetRecord of an unknown id: %v, want NOT_FOUND", err)
	}

	lics, _, err := queryAll[sf.License](t, c, "SELECT "+sf.LicenseFields+" FROM "+sf.LicenseObject+" WHERE sfLma__Package__r.sfLma__Package_ID__c = "+sf.QuoteString(pkgApp)+" ORDER BY Name")
	if err != nil {
		t.Fatalf("query licenses: %v", err)
	}
	byID := map[string]sf.License{}
	for _, l := range lics {
		byID[l.ID] = l
	}
	if len(lics) != 4 || byID[licActive].PackageID() != pkgApp || !byID[licSuspend].IsSiteLicense() || !byID[licSuspend].NeverExpires() ||
		!byID[licUninst].NeverExpires() || byID[licActive].SystemModstamp.IsZero() || byID[licActive].LastModifiedBy == nil {
		t.Errorf("licenses = %+v", lics)
	}

	pkgs, _, err := queryAll[sf.Package](t, c, "SELECT "+sf.PackageFields+" FROM "+sf.PackageObject)
	if err != nil || len(pkgs) != 2 {
		t.Fatalf("packages: %v %+v", err, pkgs)
	}
	params, _, err := queryAll[sf.FeatureParameter](t, c, "SELECT "+sf.FeatureParameterFields+" FROM "+sf.FeatureParameterObject)
	if err != nil || len(params) != 4 {
		t.Fatalf("feature parameters: %v %+v", err, params)
	}
	names := map[string]sf.FeatureParameter{}
	for _, p := range params {
		names[p.ID] = p
	}
	where := " WHERE sfFma__License__c = " + sf.QuoteString(licActive)
	ints, _, err := queryAll[sf.FeatureParameterValue](t, c, "SELECT "+sf.FeatureParameterValueFields+" FROM "+sf.FeatureParameterInteger+where)
	if err != nil || len(ints) != 2 {
		t.Fatalf("integer values: %v %+v", err, ints)
	}
	for _, v := range ints {
		n, err := v.Int()
		switch names[v.FeatureParameterID].FullName {
		case "acme__MaxProjects":
			if err != nil || n != 20 {
				t.Errorf("acme__MaxProjects = %d, %v", n, err)
			}
		case "acme__ActiveUsers":
			if err != nil || n != 7 {
				t.Errorf("acme__ActiveUsers = %d, %v", n, err)
			}
		default:
			t.Errorf("unexpected value %+v", v)
		}
	}
	bools, _, err := queryAll[sf.FeatureParameterValue](t, c, "SELECT "+sf.FeatureParameterValueFields+" FROM "+sf.FeatureParameterBoolean+where)
	if b, berr := bools[0].Bool(); err != nil || len(bools) != 1 || berr != nil || !b {
		t.Errorf("boolean values: %v %+v", err, bools)
	}
	dates, _, err := queryAll[sf.FeatureParameterValue](t, c, "SELECT "+sf.FeatureParameterValueFields+" FROM "+sf.FeatureParameterDate+where)
	if d, derr := dates[0].Date(); err != nil || len(dates) != 1 || derr != nil || d.String() != "2027-06-30" {
		t.Errorf("date values: %v %+v", err, dates)
	}

	u, ok := c.Usage()
	if !ok || u.Max != 100000 || u.Used == 0 {
		t.Errorf("Usage = %+v, %v", u, ok)
	}
	// Every call the simulator served was reported to OnCall under the same operation name.
	served := s.calls()
	mu.Lock()
	defer mu.Unlock()
	for op, n := range served {
		if n != observed[op] {
			t.Errorf("operation %s: lmosim served %d, OnCall saw %d", op, n, observed[op])
		}
	}
}

func TestContractDescribeOfMissingFMA(t *testing.T) {
	s := startSim(t, func(seed map[string]any) { seed["fmaInstalled"] = false })
	c := s.client(s.ccConfig())
	_, err := c.Describe(ctxFor(t), sf.FeatureParameterObject)
	var ae *sf.APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusNotFound || !sf.IsNotFound(err) {
		t.Fatalf("Describe: %v, want a 404 APIError", err)
	}
}

func TestContractWritesAndHistory(t *testing.T) {
	s := startSim(t, nil)
	c := s.client(s.jwtConfig(must(keys())))
	ctx := ctxFor(t)
	var before sf.License
	if err := c.GetRecord(ctx, sf.LicenseObject, licActive, &before); err != nil {
		t.Fatal(err)
	}
	newest, _, err := queryAll[sf.License](t, c, "SELECT Id, SystemModstamp FROM "+sf.LicenseObject+" ORDER BY SystemModstamp DESC LIMIT 1")
	if err != nil || len(newest) != 1 {
		t.Fatalf("watermark: %v", err)
	}
	watermark := newest[0].SystemModstamp
	if err := c.PatchRecord(ctx, sf.LicenseObject, licActive, map[string]any{sf.FieldSeats: 60}, before.LastModifiedDate.Time); err != nil {
		t.Fatalf("PatchRecord: %v", err)
	}
	var after sf.License
	if err := c.GetRecord(ctx, sf.LicenseObject, licActive, &after); err != nil {
		t.Fatal(err)
	}
	if *after.Seats != 60 || !after.SystemModstamp.After(before.SystemModstamp.Time) || after.LastModifiedByID == "" || after.LastModifiedByID == before.LastModifiedByID {
		t.Errorf("after patch: %+v", after)
	}
	// A write based on an older read is refused with 412.
	err = c.PatchRecord(ctx, sf.LicenseObject, licActive, map[string]any{sf.FieldSeats: 70}, before.LastModifiedDate.Add(-time.Hour))
	if !sf.IsPreconditionFailed(err) {
		t.Errorf("stale PatchRecord: %v, want 412", err)
	}
	// Expiration emptied (nil) through Collections, status changed, then read back.
	res, err := c.Update(ctx, []sf.RecordUpdate{
		{SObject: sf.LicenseObject, ID: licActive, Fields: map[string]any{sf.FieldExpiration: nil}},
		{SObject: sf.LicenseObject, ID: licSuspend, Fields: map[string]any{sf.FieldStatus: sf.StatusActive}},
	}, true)
	if err != nil || !res[0].Success || !res[1].Success {
		t.Fatalf("Update: %v %+v", err, res)
	}
	if err := c.GetRecord(ctx, sf.LicenseObject, licActive, &after); err != nil || !after.Expiration.IsZero() {
		t.Errorf("expiration not emptied: %+v %v", after.Expiration, err)
	}
	hist, _, err := queryAll[sf.HistoryRow](t, c, "SELECT "+sf.HistoryFields+" FROM "+sf.LicenseHistoryObject+
		" WHERE ParentId = "+sf.QuoteString(licActive)+" AND Field = 'sfLma__Seats__c'")
	if err != nil || len(hist) != 1 {
		t.Fatalf("history: %v %+v", err, hist)
	}
	var oldSeats, newSeats float64
	_ = json.Unmarshal(hist[0].OldValue, &oldSeats)
	_ = json.Unmarshal(hist[0].NewValue, &newSeats)
	if h := hist[0]; oldSeats != 50 || newSeats != 60 || h.ChangedBy() != "Integration User" || h.CreatedDate.IsZero() {
		t.Errorf("history row = %+v (old %s new %s)", h, h.OldValue, h.NewValue)
	}
	// Incremental polling: the changed records are newer than the earlier modstamp. The literal is
	// to the second (as Salesforce stores datetimes), so records of the watermark's own second are
	// read again, and nothing older.
	changed, _, err := queryAll[sf.License](t, c, "SELECT "+sf.LicenseFields+" FROM "+sf.LicenseObject+
		" WHERE SystemModstamp > "+watermark.SOQL())
	ids := map[string]bool{}
	for _, l := range changed {
		ids[l.ID] = true
		if l.SystemModstamp.Before(watermark.Truncate(time.Second)) {
			t.Errorf("incremental poll read %s, stamped %v before the watermark's second", l.ID, l.SystemModstamp)
		}
	}
	if err != nil || !ids[licActive] || len(changed) < 2 || len(changed) > 3 {
		t.Errorf("incremental poll: %v, %d records", err, len(changed))
	}
	// A feature parameter value the LMO owns is writable.
	params, _, _ := queryAll[sf.FeatureParameter](t, c, "SELECT "+sf.FeatureParameterFields+" FROM "+sf.FeatureParameterObject+" WHERE sfFma__FullName__c = 'acme__MaxProjects'")
	vals, _, err := queryAll[sf.FeatureParameterValue](t, c, "SELECT "+sf.FeatureParameterValueFields+" FROM "+sf.FeatureParameterInteger+
		" WHERE sfFma__License__c = "+sf.QuoteString(licActive)+" AND sfFma__FeatureParameter__c = "+sf.QuoteString(params[0].ID))
	if err != nil || len(vals) != 1 {
		t.Fatalf("value: %v %+v", err, vals)
	}
	res, err = c.Update(ctx, []sf.RecordUpdate{{SObject: sf.FeatureParameterInteger, ID: vals[0].ID, Fields: map[string]any{sf.FieldFeatureParameterValue: 99}}}, false)
	if err != nil || !res[0].Success {
		t.Fatalf("value write: %v %+v", err, res)
	}
}

func must[A, B any](a A, _ B) A { return a }

func TestContractLMARulesAreValidationErrors(t *testing.T) {
	s := startSim(t, func(seed map[string]any) { seed["strictLicenseRules"] = true })
	c := s.client(s.ccConfig())
	ctx := ctxFor(t)
	subscriberValue := func() string {
		params, _, err := queryAll[sf.FeatureParameter](t, c, "SELECT Id FROM "+sf.FeatureParameterObject+" WHERE sfFma__FullName__c = 'acme__ActiveUsers'")
		if err != nil || len(params) != 1 {
			t.Fatalf("param: %v", err)
		}
		vals, _, err := queryAll[sf.FeatureParameterValue](t, c, "SELECT Id FROM "+sf.FeatureParameterInteger+
			" WHERE sfFma__License__c = "+sf.QuoteString(licActive)+" AND sfFma__FeatureParameter__c = "+sf.QuoteString(params[0].ID))
		if err != nil || len(vals) != 1 {
			t.Fatalf("value: %v", err)
		}
		return vals[0].ID
	}()
	cases := []struct {
		name      string
		sobject   string
		id        string
		fields    map[string]any
		code      string // as a row PATCH answers
		batchCode string // as a Collections result says, when different
	}{
		{"an Uninstalled license is not editable", sf.LicenseObject, licUninst, map[string]any{sf.FieldSeats: 10}, sf.CodeFieldCustomValidation, ""},
		{"an Active license cannot go back to Trial", sf.LicenseObject, licActive, map[string]any{sf.FieldStatus: sf.StatusTrial}, sf.CodeFieldCustomValidation, ""},
		{"seats above 99,000,000 are out of range", sf.LicenseObject, licActive, map[string]any{sf.FieldSeats: 100_000_000}, sf.CodeNumberOutsideRange, ""},
		{"zero seats are out of range", sf.LicenseObject, licActive, map[string]any{sf.FieldSeats: 0}, sf.CodeNumberOutsideRange, ""},
		{"a trial longer than 90 days is refused", sf.LicenseObject, licTrial, map[string]any{sf.FieldExpiration: time.Now().AddDate(0, 0, 120).Format(time.DateOnly)}, sf.CodeFieldCustomValidation, ""},
		{"an unknown status is refused", sf.LicenseObject, licActive, map[string]any{sf.FieldStatus: "Expired"}, sf.CodeRestrictedPicklist, ""},
		{"a read-only field is refused", sf.LicenseObject, licActive, map[string]any{"sfLma__Used_Licenses__c": 3}, sf.CodeInvalidFieldForUpdate, ""},
		{"an unknown field is refused", sf.LicenseObject, licActive, map[string]any{"Foo__c": 3}, sf.CodeInvalidField, ""},
		{"a Subscriber-to-LMO value is read-only", sf.FeatureParameterInteger, subscriberValue, map[string]any{sf.FieldFeatureParameterValue: 1}, sf.CodeInsufficientAccess, ""},
		{"a value of the wrong type is refused", sf.LicenseObject, licActive, map[string]any{sf.FieldSeats: "fifty"}, "JSON_PARSER_ERROR", "INVALID_TYPE_ON_FIELD_IN_RECORD"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := c.PatchRecord(ctx, tc.sobject, tc.id, tc.fields, time.Time{})
			var ae *sf.APIError
			if !errors.As(err, &ae) || ae.Code != tc.code || ae.StatusCode != http.StatusBadRequest || !sf.IsValidation(err) {
				t.Errorf("PatchRecord: %v (class %v), want a 400 Validation error %s", err, sf.ClassOf(err), tc.code)
			}
			res, err := c.Update(ctx, []sf.RecordUpdate{{SObject: tc.sobject, ID: tc.id, Fields: tc.fields}}, false)
			if err != nil || len(res) != 1 {
				t.Fatalf("Update: %v %+v", err, res)
			}
			want := tc.code
			if tc.batchCode != "" {
				want = tc.batchCode
			}
			if res[0].Success || res[0].Errors[0].Code != want || sf.ClassOf(res[0].Err()) != sf.Validation {
				t.Errorf("Update result: %+v (class %v), want a Validation error %s", res[0], sf.ClassOf(res[0].Err()), want)
			}
		})
	}
	soql := []struct {
		name, soql, code string
	}{
		{"malformed SOQL", "SELEKT Id FROM sfLma__License__c", sf.CodeMalformedQuery},
		{"an unknown field in SOQL", "SELECT Foo__c FROM sfLma__License__c", sf.CodeInvalidField},
		{"an unknown object in SOQL", "SELECT Id FROM Foo__c", sf.CodeInvalidType},
	}
	for _, tc := range soql {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := queryAll[sf.License](t, c, tc.soql)
			var ae *sf.APIError
			if !errors.As(err, &ae) || ae.Code != tc.code || !sf.IsValidation(err) {
				t.Errorf("Query: %v, want Validation %s", err, tc.code)
			}
		})
	}
	// allOrNone: one refusal rolls the other record back.
	res, err := c.Update(ctx, []sf.RecordUpdate{
		{SObject: sf.LicenseObject, ID: licActive, Fields: map[string]any{sf.FieldSeats: 77}},
		{SObject: sf.LicenseObject, ID: licUninst, Fields: map[string]any{sf.FieldSeats: 77}},
	}, true)
	if err != nil || res[0].Success || res[1].Success || res[0].Errors[0].Code != sf.CodeAllOrNoneRolledBack {
		t.Errorf("allOrNone: %v %+v", err, res)
	}
}

func TestContractOAuthFailures(t *testing.T) {
	s := startSim(t, nil)
	key, stranger := keys()
	cases := []struct {
		name string
		cfg  func() sf.Config
		code string
	}{
		{"a wrong client secret", func() sf.Config {
			c := s.ccConfig()
			c.ClientCredentials.ClientSecret = "wrong-secret"
			return c
		}, "invalid_client"},
		{"an unknown client", func() sf.Config {
			c := s.ccConfig()
			c.ClientCredentials.ClientID = "nobody"
			return c
		}, "invalid_client"},
		{"an unknown JWT client", func() sf.Config {
			c := s.jwtConfig(key)
			c.JWTBearer.ClientID = "nobody"
			return c
		}, "invalid_client"},
		{"a JWT signed by the wrong key", func() sf.Config { return s.jwtConfig(stranger) }, "invalid_grant"},
		{"a JWT for another user", func() sf.Config {
			c := s.jwtConfig(key)
			c.JWTBearer.Username = "someone@else.example"
			return c
		}, "invalid_grant"},
		{"a JWT whose audience is the My Domain URL", func() sf.Config {
			// Salesforce accepts login.salesforce.com (production), test.salesforce.com (sandbox) or
			// a site URL; the org's own URL is not an audience.
			c := s.jwtConfig(key)
			c.JWTBearer.Audience = "https://acme.my.salesforce.com"
			return c
		}, "invalid_grant"},
		{"a JWT for the sandbox audience to a production org", func() sf.Config {
			c := s.jwtConfig(key)
			c.JWTBearer.Audience = sf.AudienceSandbox
			return c
		}, "invalid_grant"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sf.New(ctxFor(t), tc.cfg())
			var ae *sf.AuthError
			if !errors.As(err, &ae) || ae.Code != tc.code || !sf.IsAuth(err) {
				t.Fatalf("New: %v, want an Auth error %s", err, tc.code)
			}
			for _, secret := range []string{ccSecret, "wrong-secret", "PRIVATE KEY"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error leaks %q: %v", secret, err)
				}
			}
		})
	}
}

func TestContractExpiredAssertion(t *testing.T) {
	// The simulator's clock runs 10 minutes ahead, so a 2-minute assertion is already expired.
	key, _ := keys()
	s := startSimWithClock(t, func() time.Time { return time.Now().Add(10 * time.Minute) })
	_, err := sf.New(ctxFor(t), s.jwtConfig(key))
	var ae *sf.AuthError
	if !errors.As(err, &ae) || ae.Code != "invalid_grant" || !strings.Contains(ae.Description, "expired") {
		t.Fatalf("New: %v, want invalid_grant for an expired assertion", err)
	}
}

// startSimWithClock starts a small lmosim whose clock is now.
func startSimWithClock(t *testing.T, now func() time.Time) *sim {
	t.Helper()
	key, _ := keys()
	seed := must(json.Marshal(map[string]any{
		"clients": []map[string]any{{"clientID": jwtClientID, "username": jwtUser, "certificate": certPEM(t, key)}},
	}))
	srv, base := testenv.StartSim(t, string(seed), lmosim.Options{Now: now})
	return &sim{t: t, srv: srv, base: base}
}

func TestContractPagingAndTokenExpiryMidQuery(t *testing.T) {
	s := startSim(t, nil)
	c := s.client(s.ccConfig())
	fleet := "SELECT " + sf.LicenseFields + " FROM " + sf.LicenseObject + " WHERE sfLma__Package__r.sfLma__Package_ID__c = " + sf.QuoteString(pkgFleet)

	s.resetStats()
	lics, pages, err := queryAll[sf.License](t, c, fleet)
	if err != nil || len(lics) != fleetSize || pages != 2 {
		t.Fatalf("query: %v, %d records in %d pages, want %d in 2", err, len(lics), pages, fleetSize)
	}
	if calls := s.calls(); calls["query"] != 1 || calls["queryMore"] != 1 {
		t.Errorf("calls = %v", calls)
	}

	// Smaller pages, and every token expires after the first page: the next page still arrives.
	s.resetStats()
	expired := false
	n := 0
	err = sf.Query(ctxFor(t), c, fleet, func(p []sf.License) error {
		n += len(p)
		if !expired {
			s.fault(map[string]any{"operation": "*", "expireTokensNow": true})
			expired = true
		}
		return nil
	}, sf.WithBatchSize(500))
	if err != nil || n != fleetSize {
		t.Fatalf("query across token expiry: %v after %d records", err, n)
	}
	calls := s.calls()
	if calls["token"] != 1 || calls["query"] != 1 || calls["queryMore"] != 5 {
		t.Errorf("calls = %v, want 1 token, 1 query and 5 queryMore (one refused, then 4)", calls)
	}
}

func TestContractUpdateInChunksWithLockedRows(t *testing.T) {
	s := startSim(t, nil)
	c := s.client(s.ccConfig())
	ctx := ctxFor(t)
	lics, _, err := queryAll[sf.License](t, c, "SELECT Id, sfLma__Status__c FROM "+sf.LicenseObject+" WHERE sfLma__Package__r.sfLma__Package_ID__c = "+sf.QuoteString(pkgFleet)+" AND sfLma__Status__c != 'Uninstalled' ORDER BY Id LIMIT 450")
	if err != nil || len(lics) != 450 {
		t.Fatalf("query: %v, %d", err, len(lics))
	}
	updates := make([]sf.RecordUpdate, len(lics))
	for i, l := range lics {
		updates[i] = sf.RecordUpdate{SObject: sf.LicenseObject, ID: l.ID, Fields: map[string]any{sf.FieldSeats: 100 + i}}
	}
	s.resetStats()
	s.fault(map[string]any{"operation": "collectionsPatch", "lockRowShare": 0.5})
	res, err := c.Update(ctx, updates, false)
	if err != nil || len(res) != 450 {
		t.Fatalf("Update: %v, %d results", err, len(res))
	}
	if got := s.calls()["collectionsPatch"]; got != 3 {
		t.Errorf("%d Collections calls, want 3", got)
	}
	var retry []sf.RecordUpdate
	for i, r := range res {
		if r.ID != updates[i].ID {
			t.Fatalf("result %d is for %s, not %s", i, r.ID, updates[i].ID)
		}
		if !r.Success {
			if r.Errors[0].Code != sf.CodeUnableToLockRow || !sf.IsRetryable(r.Err()) {
				t.Errorf("result %d: %+v, want a retryable UNABLE_TO_LOCK_ROW", i, r)
			}
			retry = append(retry, updates[i])
		}
	}
	if len(retry) < 150 || len(retry) > 300 {
		t.Errorf("%d of 450 records locked, want about half", len(retry))
	}
	s.admin(http.MethodDelete, "faults", nil)
	res, err = c.Update(ctx, retry, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if !r.Success {
			t.Errorf("retry of %s failed: %+v", r.ID, r.Errors)
		}
	}
	got, _, err := queryAll[sf.License](t, c, "SELECT Id, sfLma__Seats__c FROM "+sf.LicenseObject+" WHERE sfLma__Package__r.sfLma__Package_ID__c = "+sf.QuoteString(pkgFleet)+" AND sfLma__Status__c != 'Uninstalled' ORDER BY Id LIMIT 450")
	if err != nil {
		t.Fatal(err)
	}
	var want, have []float64
	for i, l := range got {
		want = append(want, float64(100+i))
		have = append(have, *l.Seats)
	}
	if diff := cmp.Diff(want, have); diff != "" {
		t.Errorf("seats after update (-want +got):\n%s", diff)
	}
}

func TestContractLimitExhaustion(t *testing.T) {
	s := startSim(t, nil)
	var last sf.CallInfo
	cfg := s.ccConfig()
	cfg.OnCall = func(ci sf.CallInfo) { last = ci }
	c := s.client(cfg)
	s.admin(http.MethodPost, "usage", map[string]any{"used": 100000})
	_, err := c.Limits(ctxFor(t))
	var ae *sf.APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusForbidden || !sf.IsLimitExceeded(err) {
		t.Fatalf("Limits: %v, want 403 REQUEST_LIMIT_EXCEEDED", err)
	}
	u, _ := c.Usage()
	if u.Used != 100000 || u.Remaining() != 0 || last.Usage.Remaining() != 0 || !sf.IsLimitExceeded(last.Err) {
		t.Errorf("Usage = %+v, last call %+v", u, last)
	}
	_, err = c.Update(ctxFor(t), []sf.RecordUpdate{{SObject: sf.LicenseObject, ID: licActive, Fields: map[string]any{sf.FieldSeats: 3}}}, false)
	if !sf.IsLimitExceeded(err) {
		t.Errorf("Update: %v, want LimitExceeded", err)
	}
	// The injected fault gives the same answer while usage is fine.
	s.admin(http.MethodPost, "usage", map[string]any{"used": 10})
	s.fault(map[string]any{"operation": "query", "limitExceeded": true, "count": 1})
	if _, _, err := queryAll[sf.License](t, c, "SELECT Id FROM "+sf.LicenseObject); !sf.IsLimitExceeded(err) {
		t.Errorf("Query: %v, want LimitExceeded", err)
	}
}

func TestContractFaultsAreClassified(t *testing.T) {
	s := startSim(t, nil)
	c := s.client(s.ccConfig())
	cases := []struct {
		name      string
		fault     map[string]any
		malformed bool
		class     sf.ErrorClass
	}{
		{"a 503", map[string]any{"operation": "query", "status": 503}, false, sf.Retryable},
		{"a 500", map[string]any{"operation": "query", "status": 500, "errorCode": "UNKNOWN_EXCEPTION"}, false, sf.Retryable},
		{"a dropped connection", map[string]any{"operation": "query", "dropConnection": true}, false, sf.Retryable},
		{"invalid JSON", map[string]any{"operation": "query", "corrupt": "invalidJSON"}, true, sf.Terminal},
		{"wrong types", map[string]any{"operation": "query", "corrupt": "wrongTypes"}, true, sf.Terminal},
		{"a 50 MB body", map[string]any{"operation": "query", "corrupt": "hugeBody", "hugeBodyBytes": 50 << 20}, true, sf.Terminal},
		{"paging that never ends", map[string]any{"operation": "*", "corrupt": "endlessPaging"}, true, sf.Terminal},
		{"duplicate ids", map[string]any{"operation": "*", "corrupt": "duplicateIds"}, true, sf.Terminal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s.admin(http.MethodDelete, "faults", nil)
			s.fault(tc.fault)
			defer s.admin(http.MethodDelete, "faults", nil)
			_, _, err := queryAll[sf.License](t, c, "SELECT "+sf.LicenseFields+" FROM "+sf.LicenseObject+" WHERE sfLma__Package__r.sfLma__Package_ID__c = "+sf.QuoteString(pkgFleet), sf.WithBatchSize(1000))
			if err == nil || errors.Is(err, sf.ErrMalformedResponse) != tc.malformed || sf.ClassOf(err) != tc.class {
				t.Fatalf("Query: %v (class %v), want class %v, malformed %v", err, sf.ClassOf(err), tc.class, tc.malformed)
			}
		})
	}
	// Unknown picklist values (the Status picklist is not restricted) pass, each record saying which
	// value it cannot read, so the engine quarantines them one by one.
	s.fault(map[string]any{"operation": "query", "corrupt": "unknownPicklist"})
	recs, _, err := queryAll[sf.License](t, c, "SELECT "+sf.LicenseFields+" FROM "+sf.LicenseObject+" WHERE sfLma__Package__r.sfLma__Package_ID__c = "+sf.QuoteString(pkgFleet), sf.WithBatchSize(1000))
	s.admin(http.MethodDelete, "faults", nil)
	if err != nil || len(recs) == 0 {
		t.Fatalf("Query with unknown picklist values: %v (%d records), want the records", err, len(recs))
	}
	odd := 0
	for _, r := range recs {
		if strings.Contains(r.Unreadable(), `status "Pending Review"`) {
			odd++
		}
	}
	if odd == 0 {
		t.Errorf("no record of the corrupted page names its unknown status in Unreadable()")
	}
	// A dropped connection in the middle of a Collections call is retryable, with no results.
	s.fault(map[string]any{"operation": "collectionsPatch", "dropConnection": true, "count": 1})
	res, err := c.Update(ctxFor(t), []sf.RecordUpdate{{SObject: sf.LicenseObject, ID: licActive, Fields: map[string]any{sf.FieldSeats: 3}}}, false)
	if !sf.IsRetryable(err) || len(res) != 0 {
		t.Errorf("Update: %v %+v, want a retryable error and no results", err, res)
	}
}

func TestContractConcurrentUseAcrossTokenExpiry(t *testing.T) {
	s := startSim(t, nil)
	c := s.client(s.ccConfig())
	s.resetStats()
	s.fault(map[string]any{"operation": "*", "expireTokensNow": true})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 8 {
		wg.Go(func() {
			for range 3 {
				if _, err := c.Limits(ctxFor(t)); err != nil {
					errs <- fmt.Errorf("limits: %w", err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := s.calls()["token"]; got > 1 {
		t.Errorf("%d token calls for one expiry, want at most 1", got)
	}
}

// A sandbox takes test.salesforce.com as the JWT audience, and an org may take one of its
// Experience Cloud sites (issue 12, point 1).
func TestContractJWTAudienceOfASandboxAndASite(t *testing.T) {
	s := startSim(t, func(seed map[string]any) {
		org := seed["organization"].(map[string]any)
		org["isSandbox"] = true
		org["siteURLs"] = []string{"https://acme.my.site.com"}
	})
	key, _ := keys()
	for _, tc := range []struct {
		audience string
		ok       bool
	}{
		{"", false}, // lmosim's 127.0.0.1 looks like no sandbox host: the default is login.salesforce.com
		{sf.AudienceProduction, false},
		{sf.AudienceSandbox, true},
		{"https://acme.my.site.com", true},
	} {
		c := s.jwtConfig(key)
		c.JWTBearer.Audience = tc.audience
		_, err := sf.New(ctxFor(t), c)
		if (err == nil) != tc.ok {
			t.Errorf("audience %q: New = %v, want success %v", tc.audience, err, tc.ok)
		}
	}
}
