package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lmo-operator/lmo-operator/internal/lmosim"
	"github.com/lmo-operator/lmo-operator/internal/salesforce"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/sfid"
)

// Regression tests for the write path's races (issue 11). Each reproduces, against lmosim, an
// interleaving that the scripted suites never produced: a transport hook stops a call at the point
// where the race happens and lets the test act there.

// hookTransport passes requests to lmosim and lets a test intercept the Collections PATCH calls.
type hookTransport struct {
	base http.RoundTripper
	// collections, when set, handles a Collections call: send forwards it to lmosim.
	collections func(req *http.Request, send func() (*http.Response, error)) (*http.Response, error)
	patches     atomic.Int64
}

func (h *hookTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	send := func() (*http.Response, error) { return h.base.RoundTrip(req) }
	if req.Method == http.MethodPatch && strings.HasSuffix(req.URL.Path, "/composite/sobjects") {
		h.patches.Add(1)
		if h.collections != nil {
			return h.collections(req, send)
		}
	}
	return send()
}

func withHook(h *hookTransport) func(*Config) {
	return func(c *Config) {
		h.base = http.DefaultTransport
		c.HTTPClient = &http.Client{Transport: h}
	}
}

// adminClient logs in as lmo-admin, a person editing the LMO in its UI or API.
func (env *simEnv) adminClient() *salesforce.Client {
	env.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := salesforce.New(ctx, salesforce.Config{InstanceURL: env.url,
		ClientCredentials: &salesforce.ClientCredentials{ClientID: "lmo-admin", ClientSecret: "admin-secret"}})
	if err != nil {
		env.t.Fatalf("logging in as lmo-admin: %v", err)
	}
	return admin
}

func (env *simEnv) personSetsSeats(id string, seats int64) {
	env.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := env.adminClient().PatchRecord(ctx, salesforce.LicenseObject, id, map[string]any{salesforce.FieldSeats: seats}, time.Time{}); err != nil {
		env.t.Fatalf("PatchRecord as lmo-admin: %v", err)
	}
}

func (env *simEnv) mirrorSeats(id string) int64 {
	l, ok := env.eng.License(id)
	if !ok || l.Seats == nil {
		return -100
	}
	return *l.Seats
}

// Bug 1: a LicenseManagementOrg edited while its first load is in flight deadlocked the registry.
func TestRegistryRestartDuringTheFirstLoadDoesNotDeadlock(t *testing.T) {
	t.Parallel()
	srv, base := startLMOSim(t, simSeed)
	// The first load's Composite call takes a second: long enough to edit the LMO during it.
	if err := srv.AddFault(lmosim.Fault{Operation: "composite", LatencyMs: 1000}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg := NewRegistry(ctx)
	defer func() {
		stopped := make(chan struct{})
		go func() { reg.Stop("ns/acme"); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(20 * time.Second):
			t.Error("Registry.Stop blocked for 20s")
		}
	}()
	config := func(poll time.Duration) Config {
		c := Config{InstanceURL: base, PollInterval: poll,
			Credentials: Credentials{ClientCredentials: &salesforce.ClientCredentials{ClientID: "lmo-operator", ClientSecret: "s3cret"}}}
		// As the manager's router does: a status change looks the engine up.
		c.OnStatus = func(LMO) { reg.Get("ns/acme") }
		return c
	}
	reg.Ensure("ns/acme", config(time.Second))
	time.Sleep(300 * time.Millisecond) // the first load is in flight

	restarted := make(chan struct{})
	go func() {
		reg.Ensure("ns/acme", config(2*time.Second)) // a spec edit
		close(restarted)
	}()
	select {
	case <-restarted:
	case <-time.After(15 * time.Second):
		t.Fatal("Registry.Ensure blocked for 15s restarting an engine whose first load was in flight")
	}
	got := make(chan bool, 1)
	go func() { _, ok := reg.Get("ns/acme"); got <- ok }()
	select {
	case ok := <-got:
		if !ok {
			t.Error("Registry.Get found no engine after the restart")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Registry.Get blocked for 5s after a restart")
	}
}

// Bug 2: the LMA and FMA were reported installed when the Composite call that checks them failed.
func TestAppsAreUnknownUntilChecked(t *testing.T) {
	t.Parallel()
	srv, base := startLMOSim(t, simSeed)
	if err := srv.AddFault(lmosim.Fault{Operation: "composite", Status: 500}); err != nil {
		t.Fatal(err)
	}
	eng := New(Config{InstanceURL: base,
		Credentials: Credentials{ClientCredentials: &salesforce.ClientCredentials{ClientID: "lmo-operator", ClientSecret: "s3cret"}}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); eng.Run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for eng.Status().Error == "" {
		if time.Now().After(deadline) {
			t.Fatal("the engine reported no error for a failing Composite call")
		}
		time.Sleep(20 * time.Millisecond)
	}
	st := eng.Status()
	if st.LMAInstalled != nil || st.FMAInstalled != nil {
		t.Errorf("after a failed first Composite call LMAInstalled = %v, FMAInstalled = %v; want both unknown (nil)",
			fmtBool(st.LMAInstalled), fmtBool(st.FMAInstalled))
	}
}

func fmtBool(b *bool) string {
	if b == nil {
		return "unknown"
	}
	if *b {
		return "true"
	}
	return "false"
}

// Bug 3: one record with a status the operator does not know stopped the whole LMO.
func TestAnUnreadableRecordIsQuarantined(t *testing.T) {
	t.Parallel()
	// Salesforce's Status picklist is not restricted: a record can hold any text.
	odd := strings.Replace(simSeed, "a0N000000000003AAA, subscriberOrgID: 00D5g000004Def3AAA, packageID: 033000000000001AAA, status: Active",
		"a0N000000000003AAA, subscriberOrgID: 00D5g000004Def3AAA, packageID: 033000000000001AAA, status: Pending Review", 1)
	env := startSimSeed(t, odd, lmosim.Options{}, func(c *Config) { c.PollInterval = 500 * time.Millisecond })

	l, ok := env.eng.License(licC)
	if !ok {
		t.Fatalf("the record with an unknown status is not in the mirror")
	}
	if !strings.Contains(l.Unreadable, "Pending Review") || !strings.Contains(l.Unreadable, "status") {
		t.Errorf("License(%s).Unreadable = %q, want it to name the status and its value", licC, l.Unreadable)
	}
	seats := int64(9)
	if _, err := env.eng.Submit(Write{LicenseID: licC, Seats: &seats}); err == nil {
		t.Errorf("Submit to an unreadable record succeeded; such a record is never written")
	}
	// The odd record changes again (a person edits its seats): polls must go on for everyone.
	env.personSetsSeats(licC, 12)
	env.personSetsSeats(licB, 33)
	env.waitFor(5*time.Second, "a poll to mirror another license's edit", func() (bool, string) {
		return env.mirrorSeats(licB) == 33, env.eng.Status().Error
	})
}

// Bug 4: a write answer arriving after a poll mirrored a person's later edit overwrote it in the
// mirror and kept the poll's SystemModstamp, so the mirror stayed stale until the next resync.
func TestALateWriteAnswerNeverOverwritesNewerPolledState(t *testing.T) {
	t.Parallel()
	var env *simEnv
	h := &hookTransport{}
	var once sync.Once
	h.collections = func(req *http.Request, send func() (*http.Response, error)) (*http.Response, error) {
		resp, err := send() // our write commits
		once.Do(func() {
			// Before the answer arrives, a person edits the record, and a poll mirrors the edit.
			time.Sleep(1100 * time.Millisecond) // SystemModstamp moves on
			env.personSetsSeats(licA, 44)
			deadline := time.Now().Add(5 * time.Second)
			for env.mirrorSeats(licA) != 44 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
		})
		return resp, err
	}
	env = startSim(t, withHook(h))
	env.submitSeats(61, licA)
	env.waitFor(15*time.Second, "the write to be answered", func() (bool, string) {
		return len(env.writeResults()) == 1, ""
	})
	// lmosim holds the person's 44; the mirror must show it (now, or within a few polls).
	env.waitFor(4*time.Second, "the mirror to show the person's edit", func() (bool, string) {
		return env.mirrorSeats(licA) == 44, "mirror has " + itoa(int(env.mirrorSeats(licA)))
	})
	time.Sleep(2500 * time.Millisecond)
	if got := env.mirrorSeats(licA); got != 44 {
		t.Errorf("mirror seats of %s = %d after more polls, want the person's 44", licA, got)
	}
}

// errLostAnswer is a Collections answer lost after Salesforce committed the call.
var errLostAnswer = errors.New("connection reset by peer")

// Bug 5: a Collections call whose answer was lost after it committed was resent blindly.
func TestALostAnswerIsReReadNotResent(t *testing.T) {
	t.Parallel()
	h := &hookTransport{}
	var lost atomic.Bool
	h.collections = func(req *http.Request, send func() (*http.Response, error)) (*http.Response, error) {
		resp, err := send()
		if err == nil && lost.CompareAndSwap(false, true) {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			return nil, errLostAnswer
		}
		return resp, err
	}
	// Polls are rare: only a re-read can tell the engine what became of the write.
	env := startSim(t, func(c *Config) { withHook(h)(c); c.PollInterval = time.Minute })
	env.submitSeats(62, licA)
	env.waitFor(15*time.Second, "the lost write's outcome to be re-read", func() (bool, string) {
		return lost.Load() && env.mirrorSeats(licA) == 62 && !env.eng.WriteState(licA).Pending, ""
	})
	time.Sleep(3 * time.Second)
	if got := h.patches.Load(); got != 1 {
		t.Errorf("Collections calls = %d, want 1: the write committed and a re-read shows it, so nothing is resent", got)
	}
}

// Bug 5, with a person's edit between the lost answer and the retry: the edit must be observed (in
// the mirror, reported through OnChange) before anything is sent again.
func TestALostAnswerIsReReadBeforeAnyResend(t *testing.T) {
	t.Parallel()
	var env *simEnv
	h := &hookTransport{}
	var calls atomic.Int64
	var seenAtResend atomic.Int64
	h.collections = func(req *http.Request, send func() (*http.Response, error)) (*http.Response, error) {
		switch calls.Add(1) {
		case 1:
			// The call reaches lmosim, the answer is lost; then a person edits the record.
			if resp, err := send(); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
			time.Sleep(1100 * time.Millisecond)
			env.personSetsSeats(licA, 45)
			return nil, errLostAnswer
		default:
			seenAtResend.Store(env.mirrorSeats(licA))
			return send()
		}
	}
	env = startSim(t, func(c *Config) { withHook(h)(c); c.PollInterval = time.Minute })
	env.submitSeats(63, licA)
	env.waitFor(20*time.Second, "a second Collections call", func() (bool, string) { return calls.Load() >= 2, "" })
	if got := seenAtResend.Load(); got != 45 {
		t.Errorf("when the write was sent again the mirror showed seats %d, want the person's 45: a resend must follow a re-read", got)
	}
}

// Bug 6: a refused value record in the same call as its license was forgotten.
func TestARefusedRecordStaysRefused(t *testing.T) {
	t.Parallel()
	h := &hookTransport{}
	h.collections = func(req *http.Request, send func() (*http.Response, error)) (*http.Response, error) {
		var in struct {
			Records []map[string]any `json:"records"`
		}
		if err := json.NewDecoder(req.Body).Decode(&in); err != nil {
			return nil, err
		}
		// Salesforce applies the license record and refuses the value record's validation rule.
		var out strings.Builder
		out.WriteString("[")
		for i, r := range in.Records {
			if i > 0 {
				out.WriteString(",")
			}
			id, _ := r["id"].(string)
			if attrs, _ := r["attributes"].(map[string]any); attrs["type"] != salesforce.LicenseObject {
				out.WriteString(`{"id":"` + id + `","success":false,"errors":[{"statusCode":"FIELD_CUSTOM_VALIDATION_EXCEPTION","message":"Max projects cannot exceed 100","fields":["sfFma__Value__c"]}]}`)
			} else {
				out.WriteString(`{"id":"` + id + `","success":true,"errors":[]}`)
			}
		}
		out.WriteString("]")
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(out.String())), Request: req}, nil
	}
	env := startSim(t, withHook(h))
	seats := int64(64)
	if _, err := env.eng.Submit(Write{LicenseID: licA, Seats: &seats, Params: map[string]string{"acme__MaxProjects": "500"}}); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	env.waitFor(15*time.Second, "the write to be answered", func() (bool, string) {
		return len(env.writeResults()) >= 2, fmt.Sprintf("%+v %+v", env.writeResults(), env.eng.WriteState(licA))
	})
	st := env.eng.WriteState(licA)
	if st.Pending || st.Err == nil || !st.Err.Terminal || st.Err.Code != "FIELD_CUSTOM_VALIDATION_EXCEPTION" {
		t.Errorf("WriteState = %+v (err %v), want not pending with the refusal FIELD_CUSTOM_VALIDATION_EXCEPTION", st, st.Err)
	}
}

// Bug 8: the write loop outlived Run.
func TestAStoppedEngineLeavesNoWriteInFlight(t *testing.T) {
	t.Parallel()
	h := &hookTransport{}
	entered := make(chan struct{})
	var inflight atomic.Int64
	var once sync.Once
	h.collections = func(req *http.Request, send func() (*http.Response, error)) (*http.Response, error) {
		inflight.Add(1)
		defer inflight.Add(-1)
		once.Do(func() { close(entered) })
		<-req.Context().Done()
		time.Sleep(500 * time.Millisecond) // a slow teardown
		return nil, req.Context().Err()
	}
	_, base := startLMOSim(t, simSeed)
	cfg := Config{InstanceURL: base, PollInterval: time.Second,
		Credentials: Credentials{ClientCredentials: &salesforce.ClientCredentials{ClientID: "lmo-operator", ClientSecret: "s3cret"}}}
	withHook(h)(&cfg)
	eng := New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); eng.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for !eng.Status().Loaded {
		if time.Now().After(deadline) {
			t.Fatal("no load")
		}
		time.Sleep(20 * time.Millisecond)
	}
	seats := int64(66)
	if _, err := eng.Submit(Write{LicenseID: licA, Seats: &seats}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered:
	case <-time.After(15 * time.Second):
		t.Fatal("the write was never sent")
	}
	cancel()
	<-done
	if n := inflight.Load(); n != 0 {
		t.Errorf("Run returned with %d Collections call(s) still in flight: the write loop outlived the engine", n)
	}
}

// Bug 7: a write queued before the License was paused (or switched to Observe, reverted, deleted,
// held) was still sent. The writer decides again at flush time through Recheck, against the mirror
// as it is then: a withdrawn write is never sent, a changed one sends the new value.
func TestAQueuedWriteIsDecidedAgainWhenItIsSent(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	decision := map[string]*int64{} // license -> the seats the current spec asks; nil: paused
	h := &hookTransport{}
	env := startSim(t, func(c *Config) {
		withHook(h)(c)
		c.Recheck = func(_ LMO, id string) (Write, bool) {
			mu.Lock()
			defer mu.Unlock()
			seats, ok := decision[sfid.Key15(id)]
			if !ok || seats == nil {
				return Write{}, false
			}
			return Write{LicenseID: id, Seats: seats}, true
		}
	})
	set := func(id string, seats *int64) {
		mu.Lock()
		decision[sfid.Key15(id)] = seats
		mu.Unlock()
	}
	sixty, seventy := int64(60), int64(70)
	set(licA, &sixty)
	set(licB, &sixty)
	env.submitSeats(60, licA, licB)
	// Before the batch leaves: licA is paused, licB's spec moves on to 70.
	set(licA, nil)
	set(licB, &seventy)
	env.waitFor(15*time.Second, "the batch", func() (bool, string) { return env.seatsOf(licB) == 70, "" })
	if got := env.seatsOf(licA); got != 50 {
		t.Errorf("paused license %s has %v seats in the LMO, want its untouched 50", licA, got)
	}
	if st := env.eng.WriteState(licA); st.Pending {
		t.Errorf("the withdrawn write of %s is still pending: %+v", licA, st)
	}
}
