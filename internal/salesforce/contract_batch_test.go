package salesforce_test

// Contract tests of RunBatch: the incremental poll's five reads in one Composite call to lmosim.

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	sf "github.com/lmo-operator/lmo-operator/internal/salesforce"
)

// pollQueries are the five reads of an incremental poll.
func pollQueries() []string {
	return []string{
		"SELECT " + sf.LicenseFields + " FROM " + sf.LicenseObject,
		"SELECT " + sf.FeatureParameterValueFields + " FROM " + sf.FeatureParameterInteger,
		"SELECT " + sf.FeatureParameterValueFields + " FROM " + sf.FeatureParameterBoolean,
		"SELECT " + sf.FeatureParameterValueFields + " FROM " + sf.FeatureParameterDate,
		"SELECT " + sf.HistoryFields + " FROM " + sf.LicenseHistoryObject,
	}
}

// pollBatch builds the poll's batch; ids[i] collects the record ids of query i and pages[i] its pages.
func pollBatch(t *testing.T, soqls []string) (*sf.Batch, *[5][]string, *[5]int) {
	t.Helper()
	var ids [5][]string
	var pages [5]int
	b := sf.NewBatch()
	if err := sf.AddQuery(b, soqls[0], func(p []sf.License) error {
		pages[0]++
		for _, l := range p {
			ids[0] = append(ids[0], l.ID)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 4; i++ {
		if err := sf.AddQuery(b, soqls[i], func(p []sf.FeatureParameterValue) error {
			pages[i]++
			for _, v := range p {
				ids[i] = append(ids[i], v.ID)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := sf.AddQuery(b, soqls[4], func(p []sf.HistoryRow) error {
		pages[4]++
		for _, h := range p {
			ids[4] = append(ids[4], h.ID)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := sf.AddQuery(b, soqls[0], func([]sf.License) error { return nil }); !errors.Is(err, sf.ErrBatchFull) {
		t.Fatalf("6th query: %v, want ErrBatchFull", err)
	}
	return b, &ids, &pages
}

func idsOf[T any](t *testing.T, c *sf.Client, soql string, id func(T) string) []string {
	t.Helper()
	recs, _, err := queryAll[T](t, c, soql)
	if err != nil {
		t.Fatalf("query %q: %v", soql, err)
	}
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = id(r)
	}
	return out
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = append([]string(nil), a...), append([]string(nil), b...)
	sort.Strings(a)
	sort.Strings(b)
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestContractBatchPollIsOneCall(t *testing.T) {
	s := startSim(t, nil)
	var mu sync.Mutex
	observed := map[string]int64{}
	cfg := s.ccConfig()
	cfg.OnCall = func(ci sf.CallInfo) { mu.Lock(); observed[ci.Operation]++; mu.Unlock() }
	c := s.client(cfg)
	// Make some license history to read.
	if _, err := c.Update(ctxFor(t), []sf.RecordUpdate{{SObject: sf.LicenseObject, ID: licActive, Fields: map[string]any{sf.FieldSeats: 60}}}, false); err != nil {
		t.Fatalf("Update: %v", err)
	}
	soqls := pollQueries()
	want := [5][]string{
		idsOf(t, c, soqls[0], func(l sf.License) string { return l.ID }),
		idsOf(t, c, soqls[1], func(v sf.FeatureParameterValue) string { return v.ID }),
		idsOf(t, c, soqls[2], func(v sf.FeatureParameterValue) string { return v.ID }),
		idsOf(t, c, soqls[3], func(v sf.FeatureParameterValue) string { return v.ID }),
		idsOf(t, c, soqls[4], func(h sf.HistoryRow) string { return h.ID }),
	}
	if len(want[0]) != fleetSize+4 || len(want[1]) == 0 || len(want[4]) == 0 {
		t.Fatalf("seed gives %d licenses, %d integer values, %d history rows", len(want[0]), len(want[1]), len(want[4]))
	}

	s.resetStats()
	mu.Lock()
	clear(observed)
	mu.Unlock()
	b, ids, pages := pollBatch(t, soqls)
	if err := c.RunBatch(ctxFor(t), b); err != nil {
		t.Fatalf("RunBatch: %v", err)
	}
	for i := range want {
		if !sameSet(ids[i], want[i]) {
			t.Errorf("query %d: %d records, want the %d of Query", i, len(ids[i]), len(want[i]))
		}
	}
	if pages[0] != 2 {
		t.Errorf("licenses in %d pages, want 2 (the composite page and one queryMore)", pages[0])
	}
	served := s.calls()
	if served["composite"] != 1 || served["queryMore"] != 1 || served["query"] != 0 {
		t.Errorf("lmosim served %v, want 1 composite and 1 queryMore", served)
	}
	mu.Lock()
	defer mu.Unlock()
	for op, n := range served {
		if n != observed[op] {
			t.Errorf("operation %s: lmosim served %d, OnCall saw %d", op, n, observed[op])
		}
	}
	if observed[sf.OpComposite] != 1 {
		t.Errorf("OnCall saw %v", observed)
	}
}

func TestContractBatchSubrequestErrorIsTyped(t *testing.T) {
	s := startSim(t, nil)
	c := s.client(s.ccConfig())
	soqls := pollQueries()
	soqls[2] = "SELECT Id FORM " + sf.FeatureParameterBoolean
	b, ids, _ := pollBatch(t, soqls)
	s.resetStats()
	err := c.RunBatch(ctxFor(t), b)
	var ae *sf.APIError
	if !sf.IsValidation(err) || !errors.As(err, &ae) || ae.StatusCode != http.StatusBadRequest || ae.Code != sf.CodeMalformedQuery {
		t.Fatalf("RunBatch: %v (class %v), want 400 MALFORMED_QUERY", err, sf.ClassOf(err))
	}
	if len(ids[0]) != fleetSize+4 || len(ids[1]) == 0 || len(ids[2]) != 0 || len(ids[3]) == 0 {
		t.Errorf("the other queries' records: %d %d %d %d", len(ids[0]), len(ids[1]), len(ids[2]), len(ids[3]))
	}
	if calls := s.calls(); calls["composite"] != 1 {
		t.Errorf("calls = %v", calls)
	}
}

func TestContractBatchFaults(t *testing.T) {
	s := startSim(t, nil)
	c := s.client(s.ccConfig())
	cases := []struct {
		name      string
		fault     map[string]any
		malformed bool
		class     sf.ErrorClass
	}{
		{"a 503", map[string]any{"operation": "composite", "status": 503, "count": 1}, false, sf.Retryable},
		{"a dropped connection", map[string]any{"operation": "composite", "dropConnection": true, "count": 1}, false, sf.Retryable},
		{"the daily limit", map[string]any{"operation": "composite", "limitExceeded": true, "count": 1}, false, sf.LimitExceeded},
		{"invalid JSON", map[string]any{"operation": "composite", "corrupt": "invalidJSON", "count": 1}, true, sf.Terminal},
		{"duplicate ids in the pages", map[string]any{"operation": "composite", "corrupt": "duplicateIds", "count": 1}, true, sf.Terminal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s.admin(http.MethodDelete, "faults", nil)
			s.fault(tc.fault)
			defer s.admin(http.MethodDelete, "faults", nil)
			b, _, _ := pollBatch(t, pollQueries())
			err := c.RunBatch(ctxFor(t), b)
			if err == nil || errors.Is(err, sf.ErrMalformedResponse) != tc.malformed || sf.ClassOf(err) != tc.class {
				t.Fatalf("RunBatch: %v (class %v), want class %v, malformed %v", err, sf.ClassOf(err), tc.class, tc.malformed)
			}
		})
	}

	// An expired token is renewed once and the composite call retried.
	s.admin(http.MethodDelete, "faults", nil)
	s.resetStats()
	s.fault(map[string]any{"operation": "*", "expireTokensNow": true})
	b, ids, _ := pollBatch(t, pollQueries())
	if err := c.RunBatch(ctxFor(t), b); err != nil || len(ids[0]) != fleetSize+4 {
		t.Fatalf("RunBatch across token expiry: %v, %d licenses", err, len(ids[0]))
	}
	if calls := s.calls(); calls["token"] != 1 || calls["composite"] != 2 || calls["queryMore"] != 1 {
		t.Errorf("calls = %v, want 1 token, 2 composite (one refused) and 1 queryMore", calls)
	}
}

func TestContractBatchDescribeTellsWhatIsInstalled(t *testing.T) {
	s := startSim(t, func(seed map[string]any) { seed["fmaInstalled"] = false })
	c := s.client(s.ccConfig())
	s.resetStats()
	var lmaErr, fmaErr error
	var lma sf.SObjectDescribe
	var licenses []sf.License
	b := sf.NewBatch()
	addOK(t, sf.AddDescribe(b, sf.LicenseObject, func(d sf.SObjectDescribe, err error) { lma, lmaErr = d, err }))
	addOK(t, sf.AddDescribe(b, sf.FeatureParameterObject, func(_ sf.SObjectDescribe, err error) { fmaErr = err }))
	addOK(t, sf.AddQuery(b, "SELECT "+sf.LicenseFields+" FROM "+sf.LicenseObject+" WHERE Id = '"+licActive+"'", func(p []sf.License) error {
		licenses = append(licenses, p...)
		return nil
	}))
	if err := c.RunBatch(context.Background(), b); err != nil {
		t.Fatalf("RunBatch: %v (a describe's failure must not fail the batch)", err)
	}
	if lmaErr != nil || lma.Name != sf.LicenseObject {
		t.Errorf("the License describe = %q, %v; want the object", lma.Name, lmaErr)
	}
	if !sf.IsNotFound(fmaErr) {
		t.Errorf("the describe of an object that is not installed gave %v, want NOT_FOUND", fmaErr)
	}
	if len(licenses) != 1 {
		t.Errorf("the query in the same batch gave %d licenses, want 1", len(licenses))
	}
	if got := s.calls(); got["composite"] != 1 || got["describe"] != 0 {
		t.Errorf("calls = %v, want one composite and no separate describe", got)
	}
}

func addOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// ServerTime is the org's clock when the batch ran (lmosim's clock runs a minute ahead of ours
// here: less than a JWT assertion's lifetime), never later than the moment the server answered.
func TestContractBatchServerTimeIsTheOrgsClock(t *testing.T) {
	clock := func() time.Time { return time.Now().Add(time.Minute) }
	s := startSimWithClock(t, clock)
	key, _ := keys()
	c := s.client(s.jwtConfig(key))
	b := sf.NewBatch()
	if _, ok := b.ServerTime(); ok {
		t.Fatal("ServerTime of a batch that never ran is ok")
	}
	addOK(t, sf.AddQuery(b, "SELECT "+sf.LicenseFields+" FROM "+sf.LicenseObject, func([]sf.License) error { return nil }))
	before := clock()
	if err := c.RunBatch(ctxFor(t), b); err != nil {
		t.Fatalf("RunBatch: %v", err)
	}
	after := clock()
	got, ok := b.ServerTime()
	if !ok {
		t.Fatal("ServerTime not known after a run against lmosim, which sends a Date header")
	}
	// The Date header has whole seconds, and the round trip is taken off it.
	if got.After(after) || got.Before(before.Truncate(time.Second).Add(-(after.Sub(before)))) {
		t.Errorf("ServerTime = %s, want within [%s - round trip, %s]", got, before.Truncate(time.Second), after)
	}
}
