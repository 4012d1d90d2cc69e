package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lmo-operator/lmo-operator/internal/lmosim"
	"github.com/lmo-operator/lmo-operator/internal/salesforce"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/sfid"
	"github.com/lmo-operator/lmo-operator/internal/testenv"
)

// simSeed is an LMO with three Active licenses, one Uninstalled, and a writable and a
// Subscriber-to-LMO feature parameter. lmo-admin is a second API user, editing as a person would.
var simSeed = testenv.Seed{APIDailyLimit: 1000, OperatorSecret: "s3cret", AdminUsername: "dana@acme.example",
	PackageName: "Acme App", FeatureParameters: []string{testenv.MaxProjects, testenv.ActiveUsers}, Licenses: `
  - {id: a0N000000000001AAA, subscriberOrgID: 00D5g000004XyZ1AAA, packageID: 033000000000001AAA, status: Active, seats: 50, expiration: "2027-06-30", featureParameters: {acme__MaxProjects: 20}}
  - {id: a0N000000000002AAA, subscriberOrgID: 00D5g000004AbC2AAA, packageID: 033000000000001AAA, status: Active, seats: 50, expiration: "2027-06-30"}
  - {id: a0N000000000003AAA, subscriberOrgID: 00D5g000004Def3AAA, packageID: 033000000000001AAA, status: Active, seats: 50, expiration: "2027-06-30"}
  - {id: a0N000000000004AAA, subscriberOrgID: 00D5g000004Unin4AAA, packageID: 033000000000001AAA, status: Uninstalled, seats: 5, expiration: null}
`}.YAML()

const simLicenses = 4

// simEnv is an engine running against lmosim on a loopback port, with its callbacks recorded.
type simEnv struct {
	t   *testing.T
	srv *lmosim.Server
	url string
	eng *Engine

	mu      sync.Mutex
	changed []string
	writes  []WriteResult
}

// startSim starts lmosim and an engine polling it every second; configure may adjust the config.
func startSim(t *testing.T, configure func(*Config)) *simEnv {
	t.Helper()
	return startSimWith(t, lmosim.Options{}, nil, configure)
}

// startSimWith is startSim with lmosim options, and beforeRun called between lmosim's start and
// the engine's.
func startSimWith(t *testing.T, opts lmosim.Options, beforeRun func(), configure func(*Config)) *simEnv {
	t.Helper()
	return startSimSeedWith(t, simSeed, opts, beforeRun, configure)
}

// startLMOSim starts lmosim with seedText on a loopback port, stopped when the test ends.
func startLMOSim(t *testing.T, seedText string) (*lmosim.Server, string) {
	t.Helper()
	return startLMOSimWith(t, seedText, lmosim.Options{})
}

// startLMOSimWith is startLMOSim with lmosim options.
func startLMOSimWith(t *testing.T, seedText string, opts lmosim.Options) (*lmosim.Server, string) {
	t.Helper()
	return testenv.StartSim(t, seedText, opts)
}

// startSimSeed is startSim with another seed.
func startSimSeed(t *testing.T, seedText string, opts lmosim.Options, configure func(*Config)) *simEnv {
	t.Helper()
	return startSimSeedWith(t, seedText, opts, nil, configure)
}

func startSimSeedWith(t *testing.T, seedText string, opts lmosim.Options, beforeRun func(), configure func(*Config)) *simEnv {
	t.Helper()
	srv, base := testenv.StartSim(t, seedText, opts) // closed after the engine stops: cleanups run last first
	env := &simEnv{t: t, srv: srv, url: base}
	cfg := Config{
		InstanceURL:  base,
		Credentials:  Credentials{ClientCredentials: &salesforce.ClientCredentials{ClientID: "lmo-operator", ClientSecret: "s3cret"}},
		PollInterval: time.Second,
		OnChange: func(_ LMO, ids []string) {
			env.mu.Lock()
			env.changed = append(env.changed, ids...)
			env.mu.Unlock()
		},
		OnWrite: func(_ LMO, rs []WriteResult) {
			env.mu.Lock()
			env.writes = append(env.writes, rs...)
			env.mu.Unlock()
		},
	}
	if configure != nil {
		configure(&cfg)
	}
	if beforeRun != nil {
		beforeRun()
	}
	env.eng = New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		env.eng.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	env.waitFor(10*time.Second, "the first full load", func() (bool, string) {
		st := env.eng.Status()
		return st.Loaded, st.Error
	})
	// The full load reports every license; wait for that report before a test looks at OnChange.
	env.waitFor(5*time.Second, "the full load's OnChange", func() (bool, string) {
		return len(env.changedIDs()) >= simLicenses, ""
	})
	return env
}

// waitFor polls cond every 50ms until it holds or the timeout passes.
func (env *simEnv) waitFor(timeout time.Duration, what string, cond func() (bool, string)) {
	env.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			env.t.Fatalf("timed out after %v waiting for %s: %s", timeout, what, detail)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (env *simEnv) changedIDs() []string {
	env.mu.Lock()
	defer env.mu.Unlock()
	return append([]string(nil), env.changed...)
}

func (env *simEnv) resetChanged() {
	env.mu.Lock()
	env.changed = nil
	env.mu.Unlock()
}

func (env *simEnv) writeResults() []WriteResult {
	env.mu.Lock()
	defer env.mu.Unlock()
	out := append([]WriteResult(nil), env.writes...)
	sort.Slice(out, func(i, j int) bool { return out[i].LicenseID < out[j].LicenseID })
	return out
}

func (env *simEnv) calls(op string) int64 { return env.srv.Stats().Calls[op] }

// seatsOf reads a license's seats from lmosim itself.
func (env *simEnv) seatsOf(id string) float64 {
	env.t.Helper()
	l, ok := env.srv.GetLicense(id)
	if !ok {
		env.t.Fatalf("lmosim has no license %s", id)
	}
	return l.Seats
}

func (env *simEnv) submitSeats(seats int64, ids ...string) {
	env.t.Helper()
	for _, id := range ids {
		if _, err := env.eng.Submit(Write{LicenseID: id, Seats: &seats}); err != nil {
			env.t.Fatalf("Submit seats %d to %s: %v", seats, id, err)
		}
	}
}

var activeLicenses = []string{licA, licB, licC}

func TestEngineLoadsTheLMO(t *testing.T) {
	t.Parallel()
	env := startSim(t, nil)

	st := env.eng.Status()
	if !st.Connected || st.Error != "" || st.Licenses != simLicenses || st.Org == nil || st.Org.Name != "Acme ISV" ||
		st.WritesBlocked != "" || !st.UsageKnown || st.Budget.Low {
		t.Errorf("Status after the load = %+v, want connected to Acme ISV with %d licenses, writes allowed, usage known",
			st, simLicenses)
	}
	if got := env.eng.PackageLicenses(pkgID); len(got) != simLicenses {
		t.Errorf("PackageLicenses(%s) returned %d licenses, want %d", pkgID, len(got), simLicenses)
	}
	l, ok := env.eng.License(licA)
	if !ok {
		t.Fatalf("License(%s) not found", licA)
	}
	if l.Status != salesforce.StatusActive || l.Seats == nil || *l.Seats != 50 || l.Expiration != "2027-06-30" ||
		l.Params.Get("acme__MaxProjects").Value != "20" {
		t.Errorf("License(%s) = %+v, want Active, 50 seats, expiring 2027-06-30, acme__MaxProjects 20", licA, l)
	}
	if l, _ := env.eng.License(licD); l.Expiration != Never || l.Status != salesforce.StatusUninstalled {
		t.Errorf("License(%s) = %+v, want Uninstalled and never expiring", licD, l)
	}
}

func TestEngineSubmitBatchesWritesIntoOneCall(t *testing.T) {
	t.Parallel()
	env := startSim(t, nil)
	before := env.calls("collectionsPatch")

	env.submitSeats(60, activeLicenses...)
	if st := env.eng.WriteState(licA); !st.Pending {
		t.Errorf("WriteState right after Submit = %+v, want Pending", st)
	}
	env.waitFor(10*time.Second, "the three writes", func() (bool, string) {
		return len(env.writeResults()) == 3, ""
	})

	if got := env.calls("collectionsPatch") - before; got != 1 {
		t.Errorf("collectionsPatch calls = %d, want 1 for three records", got)
	}
	for _, id := range activeLicenses {
		if got := env.seatsOf(id); got != 60 {
			t.Errorf("lmosim license %s has %v seats, want 60", id, got)
		}
		if l, _ := env.eng.License(id); l.Seats == nil || *l.Seats != 60 {
			t.Errorf("the mirror's license %s has seats %v, want 60 before the next poll reads it back", id, l.Seats)
		}
		if st := env.eng.WriteState(id); st.Pending || st.Err != nil || st.LastWritten.IsZero() {
			t.Errorf("WriteState(%s) = %+v, want written without error", id, st)
		}
	}
	var want []WriteResult
	for _, id := range activeLicenses {
		want = append(want, WriteResult{LicenseID: id, Changes: []FieldWrite{{Field: "seats", Old: "50", New: "60"}}})
	}
	if diff := cmp.Diff(want, env.writeResults()); diff != "" {
		t.Errorf("OnWrite results mismatch (-want +got):\n%s", diff)
	}
	if n := env.eng.Status().PendingWrites; n != 0 {
		t.Errorf("PendingWrites = %d after the write, want 0", n)
	}
}

// A lone change (one License edited in git) does not wait out the quiet period a burst gets to fill
// its Collections call: it is sent once writeQuietAlone passes with nothing else queued.
func TestEngineSendsALoneChangeSoon(t *testing.T) {
	t.Parallel()
	env := startSim(t, nil)
	start := time.Now()
	env.submitSeats(61, licA)
	env.waitFor(writeQuiet+5*time.Second, "the write", func() (bool, string) { return len(env.writeResults()) == 1, "" })
	if took := time.Since(start); took >= writeQuiet {
		t.Errorf("a lone change took %s to be written, want less than the burst quiet period %s (writeQuietAlone %s)",
			took.Round(time.Millisecond), writeQuiet, writeQuietAlone)
	}
	if got := env.seatsOf(licA); got != 61 {
		t.Errorf("lmosim license %s has %v seats, want 61", licA, got)
	}
}

func TestEngineSubmitRefusesUnwritableChanges(t *testing.T) {
	t.Parallel()
	env := startSim(t, nil)
	seats := int64(60)
	tests := []struct {
		name    string
		write   Write
		wantErr string
	}{
		{"a Subscriber-to-LMO parameter is refused",
			Write{LicenseID: licA, Params: map[string]string{"acme__ActiveUsers": "5"}}, "Subscriber to LMO"},
		{"an Uninstalled license is refused", Write{LicenseID: licD, Seats: &seats}, "Uninstalled"},
		{"a parameter the package does not have is refused",
			Write{LicenseID: licA, Params: map[string]string{"acme__Unknown": "1"}}, "no value record"},
		{"a license not in the mirror is refused", Write{LicenseID: "a0N000000000099AAA", Seats: &seats}, "not in the mirror"},
		{"a value of the wrong type is refused",
			Write{LicenseID: licA, Params: map[string]string{"acme__MaxProjects": "many"}}, "acme__MaxProjects"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := env.eng.Submit(tt.write)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Submit(%+v) error = %v, want one mentioning %q", tt.write, err, tt.wantErr)
			}
			if n := env.eng.Status().PendingWrites; n != 0 {
				t.Errorf("a refused Submit queued %d records", n)
			}
		})
	}
	// Past the writer's quiet period nothing was sent.
	time.Sleep(writeQuiet + 500*time.Millisecond)
	if got := env.calls("collectionsPatch"); got != 0 {
		t.Errorf("collectionsPatch calls = %d after refused submits, want 0", got)
	}
}

func TestEnginePollPicksUpAnotherClientsEdit(t *testing.T) {
	t.Parallel()
	env := startSim(t, nil)
	env.resetChanged()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := salesforce.New(ctx, salesforce.Config{InstanceURL: env.url,
		ClientCredentials: &salesforce.ClientCredentials{ClientID: "lmo-admin", ClientSecret: "admin-secret"}})
	if err != nil {
		t.Fatalf("logging in as lmo-admin: %v", err)
	}
	if err := admin.PatchRecord(ctx, salesforce.LicenseObject, licB, map[string]any{salesforce.FieldSeats: 77}, time.Time{}); err != nil {
		t.Fatalf("PatchRecord as lmo-admin: %v", err)
	}

	// Two poll intervals, with slack for the race detector.
	env.waitFor(3*time.Second, "OnChange to report the edited license", func() (bool, string) {
		for _, id := range env.changedIDs() {
			if sfid.Key15(id) == sfid.Key15(licB) {
				return true, ""
			}
		}
		return false, "OnChange reported " + strings.Join(env.changedIDs(), ",")
	})
	l, _ := env.eng.License(licB)
	if l.Seats == nil || *l.Seats != 77 || l.LastModifiedBy != "Dana Admin" {
		t.Errorf("License(%s) = seats %v, modified by %q; want 77 by Dana Admin", licB, l.Seats, l.LastModifiedBy)
	}
	if c := l.Changes.Get(salesforce.FieldSeats); c.By != "Dana Admin" || c.Username != "dana@acme.example" || c.At.IsZero() {
		t.Errorf("License(%s).Changes[%s] = %+v, want a change by Dana Admin (dana@acme.example)", licB, salesforce.FieldSeats, c)
	}
	for _, id := range env.changedIDs() {
		if sfid.Key15(id) != sfid.Key15(licB) {
			t.Errorf("OnChange reported %s, which did not change", id)
		}
	}
}

func TestEngineSteadyStateCostsOneCallPerPoll(t *testing.T) {
	t.Parallel()
	env := startSim(t, nil)
	env.srv.ResetStats()
	env.resetChanged()

	time.Sleep(3*time.Second + 500*time.Millisecond)

	stats := env.srv.Stats()
	if c := stats.Calls["composite"]; c < 2 || c > 4 {
		t.Errorf("composite calls over 3 poll intervals = %d, want about 3", c)
	}
	for op, n := range stats.Calls {
		if op != "composite" && n != 0 {
			t.Errorf("%s calls in steady state = %d, want 0", op, n)
		}
	}
	if ids := env.changedIDs(); len(ids) != 0 {
		t.Errorf("OnChange reported %v while nothing changed", ids)
	}
}

// recordsRead counts the records the LMO returned to queries after the full load: the totalSize
// of every query result in Composite responses after the first two (the load's), and of every
// queryMore page. stripDate removes the Date header, as from a server that sends none.
type recordsRead struct {
	base      http.RoundTripper
	stripDate bool

	mu         sync.Mutex
	composites int
	afterLoad  int
}

func (rr *recordsRead) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := rr.base.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	if rr.stripDate {
		resp.Header.Del("Date")
	}
	isComposite := strings.HasSuffix(req.URL.Path, "/composite")
	isQueryMore := strings.Contains(req.URL.Path, "/query/")
	if !isComposite && !isQueryMore {
		return resp, nil
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var pages []struct {
		TotalSize *int `json:"totalSize"`
	}
	if isComposite {
		var env struct {
			CompositeResponse []struct {
				Body json.RawMessage `json:"body"`
			} `json:"compositeResponse"`
		}
		if err := json.Unmarshal(body, &env); err != nil {
			return nil, err
		}
		for _, sub := range env.CompositeResponse {
			var p struct {
				TotalSize *int `json:"totalSize"`
			}
			_ = json.Unmarshal(sub.Body, &p) // a describe's body has no totalSize
			pages = append(pages, p)
		}
	} else {
		var p struct {
			TotalSize *int `json:"totalSize"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			return nil, err
		}
		pages = append(pages, p)
	}
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if isComposite {
		rr.composites++
	}
	if rr.composites > 2 {
		for _, p := range pages {
			if p.TotalSize != nil {
				rr.afterLoad += *p.TotalSize
			}
		}
	}
	return resp, nil
}

func (rr *recordsRead) counts() (composites, afterLoad int) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return rr.composites, rr.afterLoad
}

// The poll watermark follows the server's clock (the Date header), so records last changed long
// before the load are not read again by every poll after it; a server without a Date header
// falls back to the newest SystemModstamp, and each poll re-reads the records stamped within
// pollOverlap of it.
func TestEnginePollsDoNotReReadWhatTheLoadRead(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		stripDate bool
		wantRead  func(polls int) (lo, hi int)
	}{
		{"with the server's Date header", false, func(int) (int, int) { return 0, 0 }},
		// Every poll reads the four licenses again (with their value and history rows).
		{"without a Date header", true, func(polls int) (int, int) { return simLicenses * polls, 1 << 30 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// The org's records were stamped a minute before the operator started.
			var offset atomic.Int64
			clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
			rr := &recordsRead{base: http.DefaultTransport, stripDate: tc.stripDate}
			env := startSimWith(t, lmosim.Options{Now: clock}, func() { offset.Store(int64(time.Minute)) },
				func(c *Config) { c.HTTPClient = &http.Client{Transport: rr, Timeout: 10 * time.Second} })
			env.waitFor(10*time.Second, "three polls after the load", func() (bool, string) {
				n, _ := rr.counts()
				return n >= 5, ""
			})
			composites, read := rr.counts()
			// A poll may have finished between the two reads of the counts: allow for one more.
			lo, _ := tc.wantRead(composites - 2)
			_, hi := tc.wantRead(composites - 1)
			if read < lo || read > hi {
				t.Errorf("records read by %d polls after the load = %d, want %d..%d", composites-2, read, lo, hi)
			}
			if ids := env.changedIDs(); len(ids) != simLicenses {
				t.Errorf("OnChange reported %d licenses, want only the load's %d: re-read records are not changes", len(ids), simLicenses)
			}
		})
	}
}

func TestEngineRetriesLockedRows(t *testing.T) {
	t.Parallel()
	env := startSim(t, nil)
	// Every record of the first two batches fails with UNABLE_TO_LOCK_ROW; the third goes through.
	if err := env.srv.AddFault(lmosim.Fault{Operation: "collectionsPatch", LockRowShare: 1, Count: 2}); err != nil {
		t.Fatalf("AddFault: %v", err)
	}

	env.submitSeats(65, activeLicenses...)
	env.waitFor(15*time.Second, "the locked writes to go through", func() (bool, string) {
		return len(env.writeResults()) == 3, ""
	})

	if got := env.calls("collectionsPatch"); got != 3 {
		t.Errorf("collectionsPatch calls = %d, want 3 (two locked, one written)", got)
	}
	for _, id := range activeLicenses {
		if got := env.seatsOf(id); got != 65 {
			t.Errorf("lmosim license %s has %v seats, want 65", id, got)
		}
		if st := env.eng.WriteState(id); st.Pending || st.Err != nil {
			t.Errorf("WriteState(%s) = %+v, want written without error", id, st)
		}
	}
	for _, r := range env.writeResults() {
		if r.Err != nil {
			t.Errorf("OnWrite reported %s failed: %v; a locked row is retried, not reported", r.LicenseID, r.Err)
		}
	}
}

func TestEngineHoldsWritesWhileTheBudgetIsLow(t *testing.T) {
	t.Parallel()
	env := startSim(t, func(c *Config) { c.ReservePercent = 20 })

	env.srv.SetAPIUsage(950) // 50 of 1000 left, under the 20% reserve
	env.waitFor(3*time.Second, "the budget to turn low", func() (bool, string) {
		st := env.eng.Status()
		return st.Budget.Low && st.Budget.Message != "", ""
	})

	env.submitSeats(70, licA)
	time.Sleep(writeQuiet + time.Second)
	if got := env.calls("collectionsPatch"); got != 0 {
		t.Errorf("collectionsPatch calls while the budget is low = %d, want 0", got)
	}
	if st := env.eng.WriteState(licA); !st.Pending {
		t.Errorf("WriteState while the budget is low = %+v, want Pending", st)
	}
	if n := env.eng.Status().PendingWrites; n != 1 {
		t.Errorf("PendingWrites while the budget is low = %d, want 1", n)
	}

	env.srv.SetAPIUsage(0)
	// A low budget polls every 4s and the held writer looks again every 5s.
	env.waitFor(15*time.Second, "the held write to go out", func() (bool, string) {
		return env.calls("collectionsPatch") == 1 && env.seatsOf(licA) == 70, ""
	})
	// lmosim commits before the engine has read the answer: wait for the writer to record it.
	env.waitFor(3*time.Second, "the writer to record the answer", func() (bool, string) {
		st := env.eng.WriteState(licA)
		return !st.Pending, fmt.Sprintf("%+v", st)
	})
	if st := env.eng.Status(); st.Budget.Low {
		t.Errorf("Budget after usage was reset = %+v, want healthy", st.Budget)
	}
	if st := env.eng.WriteState(licA); st.Pending || st.Err != nil || st.LastWritten.IsZero() {
		t.Errorf("WriteState(%s) = %+v, want written", licA, st)
	}
	if got := env.calls("collectionsPatch"); got != 1 {
		t.Errorf("collectionsPatch calls = %d, want 1", got)
	}
}

// A write that puts back a field a person changed says whose change it replaces: their name and
// username and when, from the field history; the license's write state keeps it after the write.
func TestEngineWriteNamesTheChangeItReplaces(t *testing.T) {
	t.Parallel()
	env := startSim(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := salesforce.New(ctx, salesforce.Config{InstanceURL: env.url,
		ClientCredentials: &salesforce.ClientCredentials{ClientID: "lmo-admin", ClientSecret: "admin-secret"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.PatchRecord(ctx, salesforce.LicenseObject, licB, map[string]any{salesforce.FieldSeats: 77}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	env.waitFor(3*time.Second, "the poll to read the person's edit", func() (bool, string) {
		l, _ := env.eng.License(licB)
		return l.Seats != nil && *l.Seats == 77 && l.Changes.Get(salesforce.FieldSeats).Username != "", ""
	})
	l, _ := env.eng.License(licB)
	changed := l.Changes.Get(salesforce.FieldSeats)
	env.submitSeats(50, licB)
	env.waitFor(10*time.Second, "the write", func() (bool, string) { return len(env.writeResults()) == 1, "" })
	want := []FieldWrite{{Field: "seats", Old: "77", New: "50",
		Replaces: FieldChange{By: "Dana Admin", Username: "dana@acme.example", At: changed.At}}}
	if diff := cmp.Diff(want, env.writeResults()[0].Changes); diff != "" {
		t.Errorf("written changes (-want +got):\n%s", diff)
	}
	if changed.At.IsZero() {
		t.Error("the person's change has no time")
	}
	if diff := cmp.Diff(want, env.eng.WriteState(licB).LastChanges); diff != "" {
		t.Errorf("WriteState.LastChanges (-want +got):\n%s", diff)
	}
}

// A write over the engine's own last write of a field replaces nobody's change: two spec changes
// in a row are not a person's edit put back.
func TestEngineWriteOverItsOwnWriteReplacesNoOne(t *testing.T) {
	t.Parallel()
	env := startSim(t, nil)
	env.submitSeats(60, licB)
	env.waitFor(10*time.Second, "the first write", func() (bool, string) { return len(env.writeResults()) == 1, "" })
	env.waitFor(3*time.Second, "the poll to read the write's history row", func() (bool, string) {
		l, _ := env.eng.License(licB)
		return l.Changes.Get(salesforce.FieldSeats).By == "Integration User", ""
	})
	env.submitSeats(70, licB)
	env.waitFor(10*time.Second, "the second write", func() (bool, string) { return len(env.writeResults()) == 2, "" })
	want := []FieldWrite{{Field: "seats", Old: "60", New: "70"}}
	if diff := cmp.Diff(want, env.writeResults()[1].Changes); diff != "" {
		t.Errorf("second write's changes (-want +got):\n%s", diff)
	}
}
