package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lmo-operator/lmo-operator/internal/lmosim"
	"github.com/lmo-operator/lmo-operator/internal/salesforce"
)

// Salesforce sends Sforce-Limit-Info with its parts separated by semicolons, the connected app's own
// allocation after the org's (issue 12, point 2). The budget follows the tighter of the two.
func TestTheBudgetFollowsThePerAppAllocation(t *testing.T) {
	t.Parallel()
	seed := strings.Replace(simSeed, "apiDailyLimit: 1000", "apiDailyLimit: 100000\nperAppAPILimit: 250", 1)
	env := startSimSeedWith(t, seed, lmosim.Options{}, nil, func(c *Config) { c.ReservePercent = 20 })
	env.srv.SetAppAPIUsage(240)
	env.waitFor(5*time.Second, "a poll to report the per-app usage", func() (bool, string) {
		st := env.eng.Status()
		return st.UsageKnown && st.Usage.PerAppMax == 250 && st.Usage.PerAppUsed >= 240, ""
	})
	st := env.eng.Status()
	if st.Usage.Max != 100000 || st.Usage.AppName != "lmo-operator" {
		t.Errorf("Usage = %+v, want the org's 100000 and the app lmo-operator", st.Usage)
	}
	if !st.Budget.Low || !strings.Contains(st.Budget.Message, "connected app lmo-operator") {
		t.Errorf("Budget = %+v, want low, naming the connected app's allocation", st.Budget)
	}
}

// REQUEST_LIMIT_EXCEEDED also answers too many concurrent long-running requests; that limit clears
// in seconds, and must not stop the engine for the minutes the daily limit does (issue 12, point 4).
func TestTheConcurrentRequestLimitIsRetriedSoon(t *testing.T) {
	t.Parallel()
	srv, base := startLMOSim(t, simSeed)
	if err := srv.AddFault(lmosim.Fault{Operation: "composite", ConcurrentLimit: true, Count: 1}); err != nil {
		t.Fatal(err)
	}
	eng := New(Config{InstanceURL: base,
		Credentials: Credentials{ClientCredentials: &salesforce.ClientCredentials{ClientID: "lmo-operator", ClientSecret: "s3cret"}}})
	var sawConcurrent atomic.Bool
	eng.cfg.OnStatus = func(l LMO) {
		if st := l.Status(); st.ConcurrentLimit && st.Error != "" {
			sawConcurrent.Store(true)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); eng.Run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(15 * time.Second)
	for !eng.Status().Loaded {
		if time.Now().After(deadline) {
			t.Fatalf("not loaded 15s after a concurrent-request limit: %+v", eng.Status().Budget)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !sawConcurrent.Load() {
		t.Errorf("the engine never reported the concurrent-request limit")
	}
	if st := eng.Status(); !st.Budget.LimitExceededUntil.IsZero() {
		t.Errorf("Budget.LimitExceededUntil = %v: the concurrent limit was taken for the daily one", st.Budget.LimitExceededUntil)
	}
}

// Salesforce processes at most 10 chunks of one sObject Collections call, a chunk being a run of
// consecutive records of one type (REST API Developer Guide, "Update Records Using sObject
// Collections"). The writer groups the records by type, so a call has one chunk per type at most
// (issue 12, point 12).
func TestACollectionsCallGroupsRecordsByType(t *testing.T) {
	t.Parallel()
	h := &hookTransport{}
	var chunks, types atomic.Int64
	h.collections = func(req *http.Request, send func() (*http.Response, error)) (*http.Response, error) {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		var in struct {
			Records []struct {
				Attributes struct {
					Type string `json:"type"`
				} `json:"attributes"`
			} `json:"records"`
		}
		_ = json.Unmarshal(body, &in)
		runs, seen, last := 0, map[string]bool{}, ""
		for _, r := range in.Records {
			if r.Attributes.Type != last {
				runs++
				last = r.Attributes.Type
			}
			seen[r.Attributes.Type] = true
		}
		chunks.Store(int64(runs))
		types.Store(int64(len(seen)))
		return send()
	}
	env := startSim(t, withHook(h))
	for i, id := range activeLicenses {
		seats := int64(70 + i)
		w := Write{LicenseID: id, Seats: &seats}
		if l, _ := env.eng.License(id); l.Params.Get("acme__MaxProjects").RecordID != "" {
			w.Params = map[string]string{"acme__MaxProjects": itoa(30 + i)}
		}
		if _, err := env.eng.Submit(w); err != nil {
			t.Fatalf("Submit %s: %v", id, err)
		}
	}
	env.waitFor(15*time.Second, "the writes", func() (bool, string) { return h.patches.Load() >= 1 && chunks.Load() > 0, "" })
	if types.Load() < 2 {
		t.Fatalf("the call carried %d record type(s); the test needs licenses and values in one call", types.Load())
	}
	if chunks.Load() != types.Load() {
		t.Errorf("the call had %d chunks for %d record types: records of a type must be consecutive", chunks.Load(), types.Load())
	}
}

// The LMA's Expiration field describes 1/1/1970 as a license that does not expire, and its
// Expiration Date formula shows "Does not expire" for that date (issue 12, point 8): the operator
// writes that convention for Never, and reads both an empty date and 1970-01-01 as Never.
func TestNeverIsWrittenAsTheLMAConvention(t *testing.T) {
	t.Parallel()
	env := startSim(t, nil)
	never := Never
	if _, err := env.eng.Submit(Write{LicenseID: licA, Expiration: &never}); err != nil {
		t.Fatal(err)
	}
	env.waitFor(15*time.Second, "the write", func() (bool, string) {
		l, _ := env.srv.GetLicense(licA)
		return l.Expiration != nil && *l.Expiration == "1970-01-01", fmt.Sprint(l.Expiration)
	})
	if l, _ := env.eng.License(licA); l.Expiration != Never {
		t.Errorf("mirror expiration = %q, want %q", l.Expiration, Never)
	}
	// The next polls read 1970-01-01 back as Never: nothing differs, nothing is reported.
	env.resetChanged()
	time.Sleep(2500 * time.Millisecond)
	if l, _ := env.eng.License(licA); l.Expiration != Never {
		t.Errorf("after polls the mirror reads %q for 1970-01-01, want %q", l.Expiration, Never)
	}
}

// sfLma__License__History exists only while field history tracking is on for the License object. An
// LMO without it still loads and polls (issue 12, point 6): drift is reported without who made the
// change, and the status says why.
func TestAnLMOWithoutFieldHistoryLoadsAndPolls(t *testing.T) {
	t.Parallel()
	seed := strings.Replace(simSeed, "apiDailyLimit: 1000", "apiDailyLimit: 1000\nhistoryTracking: false", 1)
	env := startSimSeedWith(t, seed, lmosim.Options{}, nil, func(c *Config) { c.PollInterval = 500 * time.Millisecond })
	if st := env.eng.Status(); !strings.Contains(st.AttributionUnavailable, "history") {
		t.Errorf("Status.AttributionUnavailable = %q, want it to say field history is off", st.AttributionUnavailable)
	}
	env.personSetsSeats(licB, 34)
	env.waitFor(5*time.Second, "a poll to mirror the edit", func() (bool, string) {
		return env.mirrorSeats(licB) == 34, env.eng.Status().Error
	})
	seats := int64(51)
	if _, err := env.eng.Submit(Write{LicenseID: licB, Seats: &seats}); err != nil {
		t.Fatal(err)
	}
	env.waitFor(15*time.Second, "the write", func() (bool, string) { return env.seatsOf(licB) == 51, "" })
}
