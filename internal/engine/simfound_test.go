package engine

import (
	"bytes"
	"context"
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
	"github.com/lmo-operator/lmo-operator/internal/testenv/testclock"
)

// Regression tests for the bugs the seeded simulation (simulation_test.go) found, each shrunk to
// the few steps that matter and run step by step, as the simulation does. The comment of each
// names the seed that found it (seeds of the schedule generator as it was then: the generator has
// changed since, the tests are what stays).

// stepped starts lmosim on a loopback port and an engine that runs only when the test calls its
// steps (connect, fullLoad, poll, flush): no Run, no timers. transport, when set, carries the
// engine's calls to lmosim.
func stepped(t *testing.T, transport http.RoundTripper) (*simEnv, context.Context) {
	t.Helper()
	return steppedOn(t, transport, nil)
}

// steppedOn is stepped with lmosim and the engine on the clock now (nil: the real one).
func steppedOn(t *testing.T, transport http.RoundTripper, now func() time.Time) (*simEnv, context.Context) {
	t.Helper()
	srv, base := startLMOSimWith(t, simSeed, lmosim.Options{Now: now})
	env := &simEnv{t: t, srv: srv, url: base}
	cfg := Config{InstanceURL: base, Now: now,
		Credentials: Credentials{ClientCredentials: &salesforce.ClientCredentials{ClientID: "lmo-operator", ClientSecret: "s3cret"}},
		OnChange: func(_ LMO, ids []string) {
			env.mu.Lock()
			env.changed = append(env.changed, ids...)
			env.mu.Unlock()
		},
	}
	if transport != nil {
		cfg.HTTPClient = &http.Client{Transport: transport}
	}
	env.eng = New(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	if err := env.eng.connect(ctx); err != nil {
		t.Fatalf("connect: %v", err)
	}
	if _, err := env.eng.fullLoad(ctx); err != nil {
		t.Fatalf("fullLoad: %v", err)
	}
	return env, ctx
}

func (env *simEnv) flushNow(ctx context.Context) int {
	env.t.Helper()
	n, err := env.eng.flush(ctx)
	if err != nil {
		env.t.Fatalf("flush: %v", err)
	}
	return n
}

func (env *simEnv) pollNow(ctx context.Context) {
	env.t.Helper()
	if err := env.eng.poll(ctx, true); err != nil {
		env.t.Fatalf("poll: %v", err)
	}
}

// superseded reports whether the license shows a change replaced before the engine read it.
func superseded(l License, field, value, by string) bool {
	for _, s := range l.Superseded {
		if s.Field == field && s.Value == value && s.By == by {
			return true
		}
	}
	return false
}

// holdPoll passes requests to lmosim; armed, it holds the answer of the next Composite call (a
// poll) after lmosim served it, until released.
type holdPoll struct {
	base    http.RoundTripper
	armed   atomic.Bool
	served  chan struct{}
	release chan struct{}
	patches atomic.Int64
}

func newHoldPoll() *holdPoll {
	return &holdPoll{base: http.DefaultTransport, served: make(chan struct{}), release: make(chan struct{})}
}

func (h *holdPoll) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPatch && strings.HasSuffix(req.URL.Path, "/composite/sobjects") {
		h.patches.Add(1)
	}
	if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/composite") && h.armed.CompareAndSwap(true, false) {
		resp, err := h.base.RoundTrip(req)
		close(h.served)
		<-h.release
		return resp, err
	}
	return h.base.RoundTrip(req)
}

// heldPoll starts a poll whose answer h holds once lmosim served it; the returned channel gives
// the poll's error once h releases it.
func (env *simEnv) heldPoll(ctx context.Context, h *holdPoll) <-chan error {
	env.t.Helper()
	h.armed.Store(true)
	polled := make(chan error, 1)
	go func() { polled <- env.eng.poll(ctx, true) }()
	select {
	case <-h.served:
	case <-time.After(10 * time.Second):
		env.t.Fatal("the poll was not served in 10s")
	}
	return polled
}

// Seed 22: a person set the seats, the subscriber then reported its usage (the License Manager
// user modifies the record), and the engine restarted before a poll saw the edit. The full load
// read no field history, so the seats were attributed to the record's last modifier, the License
// Manager, and the person's edit was never reported with its author.
func TestAFullLoadAttributesEachTermToItsLastEditor(t *testing.T) {
	t.Parallel()
	env, ctx := stepped(t, nil)
	env.personSetsSeats(licB, 33)
	used := 7.0
	if _, err := env.srv.UpdateFromSubscriber(licB, lmosim.SubscriberUpdate{UsedLicenses: &used}); err != nil {
		t.Fatal(err)
	}
	// The engine restarts: a new one loads the LMO.
	fresh := New(Config{InstanceURL: env.url,
		Credentials: Credentials{ClientCredentials: &salesforce.ClientCredentials{ClientID: "lmo-operator", ClientSecret: "s3cret"}}})
	if err := fresh.connect(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := fresh.fullLoad(ctx); err != nil {
		t.Fatal(err)
	}
	l, ok := fresh.License(licB)
	if !ok {
		t.Fatalf("License(%s) not found after the full load", licB)
	}
	if got := l.Changes.Get(salesforce.FieldSeats); got.Username != "dana@acme.example" {
		t.Errorf("after a full load the seats of %s are attributed to username %q, want dana@acme.example", licB, got.Username)
	}
	if got := l.Changes.Get(salesforce.FieldSeats).By; got != "Dana Admin" {
		t.Errorf("after a full load the seats of %s are attributed to %q (record last modified by %q), want Dana Admin, who set them",
			licB, got, l.LastModifiedBy)
	}
}

// Seed 24: a person changed the seats while the operator's write of the seats was on its way to
// Salesforce. The write landed second and replaced the edit before any poll saw it; the history
// rows that show it were read, and dropped: the person's edit was never reported.
func TestAnEditThatCrossedAWriteIsReportedFromTheHistory(t *testing.T) {
	t.Parallel()
	var env *simEnv
	h := &hookTransport{base: http.DefaultTransport}
	var once sync.Once
	h.collections = func(req *http.Request, send func() (*http.Response, error)) (*http.Response, error) {
		once.Do(func() { env.personSetsSeats(licA, 33) })
		return send()
	}
	env, ctx := stepped(t, h)
	env.submitSeats(61, licA)
	env.flushNow(ctx)
	env.pollNow(ctx)
	if l, _ := env.eng.License(licA); !superseded(l, salesforce.FieldSeats, "33", "Dana Admin") {
		t.Errorf("License(%s).Superseded = %+v, want Dana Admin's seats 33, replaced by the operator's write before any read saw it", licA, l.Superseded)
	}
}

// Seed 24, the same crossing followed by the session's periodic full load before any poll: the load
// read the history rows of the edit and of the write, and kept only who changed the field last.
func TestAnEditThatCrossedAWriteIsReportedAfterAFullLoad(t *testing.T) {
	t.Parallel()
	var env *simEnv
	h := &hookTransport{base: http.DefaultTransport}
	var once sync.Once
	h.collections = func(req *http.Request, send func() (*http.Response, error)) (*http.Response, error) {
		once.Do(func() { env.personSetsSeats(licA, 34) })
		return send()
	}
	env, ctx := stepped(t, h)
	env.submitSeats(62, licA)
	env.flushNow(ctx)
	if _, err := env.eng.fullLoad(ctx); err != nil {
		t.Fatal(err)
	}
	if l, _ := env.eng.License(licA); !superseded(l, salesforce.FieldSeats, "34", "Dana Admin") {
		t.Errorf("License(%s).Superseded = %+v after a full load, want Dana Admin's seats 34, replaced by the operator's write before any read saw it", licA, l.Superseded)
	}
}

// Seed 115: a poll read a record (changed since the last read, so its copy is newer than the
// mirror's), and before its answer was applied the writer wrote the record and applied the
// answer. The poll's copy, older than the write, then replaced the written values in the mirror,
// and the next flush sent the same values again.
func TestAPollReadBeforeAWriteDoesNotUndoIt(t *testing.T) {
	t.Parallel()
	h := newHoldPoll()
	env, ctx := stepped(t, h)
	// The subscriber reports its usage: the record moves on, and the next poll brings a newer copy.
	used := 3.0
	if _, err := env.srv.UpdateFromSubscriber(licA, lmosim.SubscriberUpdate{UsedLicenses: &used}); err != nil {
		t.Fatal(err)
	}
	polled := env.heldPoll(ctx, h)
	env.submitSeats(61, licA)
	env.flushNow(ctx)
	close(h.release) // the poll's answer, read before the write, arrives now
	if err := <-polled; err != nil {
		t.Fatal(err)
	}
	if got := env.mirrorSeats(licA); got != 61 {
		t.Errorf("after a poll read before the write was applied, the mirror shows seats %d, want the written 61", got)
	}
	env.submitSeats(61, licA) // the controller asks for what the mirror shows
	env.flushNow(ctx)
	if n := h.patches.Load(); n != 1 {
		t.Errorf("Collections calls = %d, want 1: seats 61 were written once and answered", n)
	}
}

// Seeds 166, 202, 337: a person changed a feature parameter and changed it back before the next
// poll. The poll's copy, newer and by the person, held the value the mirror already had, so it was
// dropped whole: the mirror kept attributing the value to whoever set it before.
func TestAParameterEditBackToTheSameValueIsAttributed(t *testing.T) {
	t.Parallel()
	env, ctx := stepped(t, nil)
	env.personSetsParamTwice(ctx, licA, "acme__MaxProjects")
	env.pollNow(ctx)
	l, _ := env.eng.License(licA)
	if got := l.Params.Get("acme__MaxProjects"); got.Value != "20" || got.LastModifiedBy != "Dana Admin" {
		t.Errorf("after the poll MaxProjects of %s = %q by %q, want 20 by Dana Admin, who set it last", licA, got.Value, got.LastModifiedBy)
	}
}

// personSetsParamTwice has Dana Admin set an Integer parameter seeded at 20 to 5 and back to 20.
func (env *simEnv) personSetsParamTwice(ctx context.Context, id, name string) {
	env.t.Helper()
	l, _ := env.eng.License(id)
	pv := l.Params.Get(name)
	if pv.Value != "20" || pv.LastModifiedBy == "Dana Admin" {
		env.t.Fatalf("seeded %s of %s = %+v, want 20 set by someone else than Dana Admin", name, id, pv)
	}
	admin := env.adminClient()
	for _, v := range []int64{5, 20} {
		if err := admin.PatchRecord(ctx, salesforce.FeatureParameterInteger, pv.RecordID, map[string]any{salesforce.FieldFeatureParameterValue: v}, time.Time{}); err != nil {
			env.t.Fatal(err)
		}
	}
}

// Seed 1090: the record changed (a usage report), and while the write was on its way a poll read
// the record — before the write committed — and brought that newer copy into the mirror. The write
// answer, finding the mirror moved on, was dropped as older than the copy; the mirror showed the
// values from before the write, and the next flush sent them again.
func TestAWriteAnswerDroppedForANewerCopyIsReReadBeforeAnyResend(t *testing.T) {
	t.Parallel()
	var env *simEnv
	h := &hookTransport{base: http.DefaultTransport}
	var once sync.Once
	h.collections = func(req *http.Request, send func() (*http.Response, error)) (*http.Response, error) {
		once.Do(func() { env.pollNow(req.Context()) })
		return send()
	}
	env, ctx := stepped(t, h)
	used := 3.0
	if _, err := env.srv.UpdateFromSubscriber(licA, lmosim.SubscriberUpdate{UsedLicenses: &used}); err != nil {
		t.Fatal(err)
	}
	env.submitSeats(63, licA)
	env.flushNow(ctx)
	// The controller asks again for what the mirror may not show yet.
	env.submitSeats(63, licA)
	env.flushNow(ctx)
	if n := h.patches.Load(); n != 1 {
		t.Errorf("Collections calls = %d, want 1: seats 63 were written and answered; a re-read, not a resend, settles the mirror", n)
	}
	if got := env.mirrorSeats(licA); got != 63 {
		t.Errorf("mirror seats of %s = %d, want the written 63", licA, got)
	}
}

// Seed 3206: a person changed the seats; a poll read the edit, and before the poll's answer was
// applied the writer (deciding from the mirror, which did not show the edit yet) overwrote it. The
// poll's copy of the record was rightly not taken, but its history rows went with it and the
// watermark moved past them: no later poll read the edit, and it was never reported.
func TestAnEditReadByAPollThatAWriteOverwroteIsReported(t *testing.T) {
	t.Parallel()
	h := newHoldPoll()
	env, ctx := stepped(t, h)
	env.personSetsSeats(licA, 35)
	time.Sleep(pollOverlap + 2*time.Second) // later polls do not reach back to the edit
	polled := env.heldPoll(ctx, h)
	env.submitSeats(64, licA)
	env.flushNow(ctx)
	close(h.release)
	if err := <-polled; err != nil {
		t.Fatal(err)
	}
	env.pollNow(ctx) // the next poll
	if l, _ := env.eng.License(licA); !superseded(l, salesforce.FieldSeats, "35", "Dana Admin") {
		t.Errorf("License(%s).Superseded = %+v, want Dana Admin's seats 35, read by a poll whose answer arrived after the write that replaced them", licA, l.Superseded)
	}
}

// Seed 6005: while the engine was disconnected, a person set a feature parameter and set it back.
// The full load that followed saw the value by the person, but the value equalled the mirror's, so
// the load reported no change: no reconcile showed the person's edit, and a write overwrote it
// unreported.
func TestAFullLoadReportsAParameterWhoseAuthorChanged(t *testing.T) {
	t.Parallel()
	env, ctx := stepped(t, nil)
	env.personSetsParamTwice(ctx, licA, "acme__MaxProjects")
	env.resetChanged()
	if _, err := env.eng.fullLoad(ctx); err != nil {
		t.Fatal(err)
	}
	reported := false
	for _, id := range env.changedIDs() {
		reported = reported || sfid.Key15(id) == sfid.Key15(licA)
	}
	l, _ := env.eng.License(licA)
	if got := l.Params.Get("acme__MaxProjects"); !reported || got.LastModifiedBy != "Dana Admin" {
		t.Errorf("after the full load MaxProjects of %s = %q by %q, OnChange for it: %t; want 20 by Dana Admin, reported",
			licA, got.Value, got.LastModifiedBy, reported)
	}
}

// Seed 3269 of make simulate (after whole-second stamps): the writer's re-read of a license began,
// a poll began and was applied while it was in flight, and a person changed the record before the
// re-read was served. The re-read's copy, from a read that began before the poll's was applied,
// was neither taken nor read again before the flush went on: the mirror kept showing the poll's
// copy although the engine had read the person's edit.
func TestAReReadOverlappingAPollSettlesTheRecord(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		// later is how much later than the copy the poll brought the person's edit is made.
		later time.Duration
	}{
		{name: "the edit is stamped later than the poll's copy", later: time.Second},
		{name: "the edit shares the second of the poll's copy", later: 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var env *simEnv
			var clock *testclock.Clock
			var once sync.Once
			h := &rereadHook{base: http.DefaultTransport, before: func(ctx context.Context) {
				once.Do(func() {
					env.pollNow(ctx)
					clock.Advance(tt.later)
					env.personSets(ctx, licA, map[string]any{salesforce.FieldSeats: 34})
				})
			}}
			env, ctx, clock := steppedOnAClock(t, h)
			clock.Advance(time.Second)
			env.personSets(ctx, licA, map[string]any{salesforce.FieldSeats: 33})
			if err := env.eng.rereadRecords(ctx, []string{licA}); err != nil {
				t.Fatal(err)
			}
			env.wantMirror(licA, 34, "Dana Admin", "the re-read served after the edit")
		})
	}
}

// rereadHook runs before once a re-read of records (a Composite call that selects licenses by
// id) is sent.
type rereadHook struct {
	base   http.RoundTripper
	before func(context.Context)
}

func (h *rereadHook) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/composite") && req.Body != nil {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		if strings.Contains(string(body), "Id+IN") || strings.Contains(string(body), "Id IN") || strings.Contains(string(body), "Id%20IN") {
			h.before(req.Context())
		}
	}
	return h.base.RoundTrip(req)
}
