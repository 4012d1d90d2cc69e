package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/lmo-operator/lmo-operator/internal/engine"
	"github.com/lmo-operator/lmo-operator/internal/lmosim"
	"github.com/lmo-operator/lmo-operator/internal/salesforce"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/sfid"
	"github.com/lmo-operator/lmo-operator/internal/testenv"
	"github.com/lmo-operator/lmo-operator/internal/testenv/testclock"
)

// The world of one simulated schedule: lmosim served in-process on a fake clock, an engine driven
// step by step as Run would drive it, a person editing the LMO through the REST API, and the
// Kubernetes Licenses with the controller that decides for them (sim_model_test.go). Everything
// runs on the schedule's goroutine; an "in flight" interleaving runs its actions inside the
// transport while a call is held, so a run is a pure function of its seed.

// simSeedYAML is the LMO every schedule starts from: one package with two writable feature
// parameters and one the subscriber reports; subscribers Sub0..Sub6 have a license each (Active,
// Trial, Suspended, an Active site license, Uninstalled, Active, Trial), Sub7 installs later.
// lmo-admin is Dana Admin, a person editing through the REST API as another user.
var simSeedYAML = testenv.Seed{APIDailyLimit: 5000000, OperatorSecret: "s3cret", AdminUsername: "dana@acme.example",
	PackageName: "Acme App", FeatureParameters: []string{testenv.MaxProjects, testenv.Beta, testenv.ActiveUsers}, Licenses: `
  - {id: a0N000000000001AAA, subscriberOrgID: 00D5g000000Sub0AAA, packageID: 033000000000001AAA, status: Active, seats: 50, expiration: "2027-06-30", usedLicenses: 12, featureParameters: {acme__MaxProjects: 20, acme__Beta: false}}
  - {id: a0N000000000002AAA, subscriberOrgID: 00D5g000000Sub1AAA, packageID: 033000000000001AAA, status: Trial, seats: 10, expiration: "2027-01-15", usedLicenses: 3}
  - {id: a0N000000000003AAA, subscriberOrgID: 00D5g000000Sub2AAA, packageID: 033000000000001AAA, status: Suspended, seats: 20, expiration: "2027-03-31"}
  - {id: a0N000000000004AAA, subscriberOrgID: 00D5g000000Sub3AAA, packageID: 033000000000001AAA, status: Active, seats: -1, expiration: null, usedLicenses: 40}
  - {id: a0N000000000005AAA, subscriberOrgID: 00D5g000000Sub4AAA, packageID: 033000000000001AAA, status: Uninstalled, seats: 5, expiration: null}
  - {id: a0N000000000006AAA, subscriberOrgID: 00D5g000000Sub5AAA, packageID: 033000000000001AAA, status: Active, seats: 20, expiration: "2027-06-30", usedLicenses: 18, featureParameters: {acme__MaxProjects: 10, acme__Beta: true}}
  - {id: a0N000000000007AAA, subscriberOrgID: 00D5g000000Sub6AAA, packageID: 033000000000001AAA, status: Trial, seats: 5, expiration: "2026-12-20"}
`}.YAML()

const (
	simPackageID = "033000000000001AAA"
	// simInstance is the engine's instance URL: loopback, so plain http is allowed; no socket is
	// opened, the transport hands every request to lmosim's handler.
	simInstance   = "http://127.0.0.1:1"
	simAdminName  = "Dana Admin"
	simOperator   = "operator" // the author of the engine's writes in the checker's books
	simSubscriber = "subscriber"
	simReserve    = 10 // ReservePercent
)

var (
	simSubscribers = []string{"00D5g000000Sub0AAA", "00D5g000000Sub1AAA", "00D5g000000Sub2AAA",
		"00D5g000000Sub3AAA", "00D5g000000Sub4AAA", "00D5g000000Sub5AAA", "00D5g000000Sub6AAA", "00D5g000000Sub7AAA"}
	simSeededRecords = []string{"a0N000000000001AAA", "a0N000000000002AAA", "a0N000000000003AAA",
		"a0N000000000004AAA", "a0N000000000005AAA", "a0N000000000006AAA", "a0N000000000007AAA"}
	simStart = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	// errSimLost is a Collections answer lost after Salesforce committed the call.
	errSimLost = errors.New("read tcp 127.0.0.1:50000->127.0.0.1:1: read: connection reset by peer")
)

// simSession is the engine's session as Run holds it: up after a connect and a full load, down
// after a failure until the reconnect backoff passed; limitUntil is the write loop's hold after
// REQUEST_LIMIT_EXCEEDED.
type simSession struct {
	up         bool
	downUntil  time.Time
	failures   int
	limitUntil time.Time
}

// simOp marks the context of an engine step, so the transport knows which loop a call belongs to
// and which snapshot of the LMO a read saw.
type simOp struct {
	kind    string // start, poll, load, flush
	snap    simTruth
	snapSeq int
	// servedTick orders the read among the answers that reached the engine.
	servedTick int
}

type simOpKey struct{}

// simWorld is one schedule's world.
type simWorld struct {
	seed  uint64
	rng   *rand.Rand
	clock *testclock.Clock
	srv   *lmosim.Server
	eng   *engine.Engine
	admin *salesforce.Client
	ctx   context.Context

	model   *simModel
	chk     *simChecker
	session simSession
	// records are the license record ids lmosim holds (18 characters), in creation order.
	records []string

	// Transport knobs: the share of Collections answers lost after the commit, and of calls held
	// in flight while other actions run.
	lostShare       float64
	interleaveShare float64
	// The loops in progress: one session loop (connect, load, poll) and one write loop at a time,
	// as in Run.
	inRead, inWrite bool
	depth           int

	// lateCommits are the faults of a world whose writes commit late (lmosim's commitDelayMs): a
	// record appears stamped up to 4 seconds before it became visible, older than stamps already
	// seen. Clearing the faults keeps them: they are how this org behaves.
	lateCommits []lmosim.Fault

	// refused401 is the body of the last Collections call refused for an expired session.
	refused401 string
	// usageResetStep is when a spent or nearly spent API allocation is given back (a new day).
	usageResetStep int
	// refused are the Licenses whose write the LMO refused for good, with the error code.
	refused map[string]string
	// approvals are the approvals reviewers gave (annotation values), each with the field values of
	// the records it approves.
	approvals map[string]map[simKey]string
	// calls counts the engine's HTTP calls.
	calls    int
	restarts int
	trace    []string
	step     int
}

func newSimWorld(seed uint64) (*simWorld, error) {
	data, err := lmosim.ParseSeed([]byte(simSeedYAML))
	if err != nil {
		return nil, err
	}
	clock := testclock.New(simStart)
	srv, err := lmosim.New(data, lmosim.Options{Now: clock.Now})
	if err != nil {
		return nil, err
	}
	w := &simWorld{seed: seed, rng: rand.New(rand.NewPCG(seed, 0x51ed0fa11)), clock: clock, srv: srv,
		ctx: context.Background(), records: append([]string(nil), simSeededRecords...), interleaveShare: 0.2,
		refused: map[string]string{}, approvals: map[string]map[simKey]string{}}
	// How often calls are held in flight varies from schedule to schedule.
	w.interleaveShare = 0.05 + 0.45*w.rng.Float64()
	// A third of the worlds have long transactions, for the person's edits and the engine's writes.
	// The delay stays within what the poll's overlap covers (pollOverlap less the second a stamp
	// loses to truncation).
	if w.rng.IntN(3) == 0 {
		for _, op := range []string{"rowPatch", "collectionsPatch"} {
			w.lateCommits = append(w.lateCommits, lmosim.Fault{Operation: op, CommitDelayMs: 250 + w.rng.IntN(3751),
				Probability: 0.2 + 0.6*w.rng.Float64(), Seed: w.rng.Uint64() | 1})
		}
	}
	for _, f := range w.lateCommits {
		if err := srv.AddFault(f); err != nil {
			return nil, err
		}
	}
	w.chk = newSimChecker(w)
	w.model = newSimModel(w)
	w.eng = w.newEngine()
	return w, nil
}

func (w *simWorld) newEngine() *engine.Engine {
	return engine.New(engine.Config{
		InstanceURL:    simInstance,
		Credentials:    engine.Credentials{ClientCredentials: &salesforce.ClientCredentials{ClientID: "lmo-operator", ClientSecret: "s3cret"}},
		HTTPClient:     &http.Client{Transport: &simTransport{w: w, engine: true}},
		ReservePercent: simReserve,
		OnChange:       w.onChange,
		Recheck:        w.model.recheck,
		Now:            w.clock.Now,
	})
}

func (w *simWorld) now() time.Time { return w.clock.Now() }

func (w *simWorld) logf(format string, args ...any) {
	prefix := strings.Repeat("  ", w.depth)
	w.trace = append(w.trace, fmt.Sprintf("%4d %s %s%s", w.step, w.now().Format("01-02T15:04:05"), prefix, fmt.Sprintf(format, args...)))
}

// onChange is the engine's OnChange: the checker looks at what the mirror now reports, and the
// Licenses of the changed records are queued for a reconcile.
func (w *simWorld) onChange(lmo engine.LMO, ids []string) {
	w.chk.observeReports(lmo, ids)
	for _, id := range ids {
		if rec, ok := lmo.License(id); ok {
			w.model.queueSubscriber(rec.SubscriberOrgID)
		}
	}
}

// opContext is the context of one engine step.
func (w *simWorld) opContext(kind string) (context.Context, *simOp) {
	op := &simOp{kind: kind}
	return context.WithValue(w.ctx, simOpKey{}, op), op
}

// ---- The engine, driven as Run drives it ----

// ensureSession opens a session (connect and full load) when none is up and the backoff passed.
// It reports whether a session is up, and whether this call opened it.
func (w *simWorld) ensureSession() (up, opened bool) {
	if w.session.up {
		return true, false
	}
	if w.now().Before(w.session.downUntil) || w.inRead {
		return false, false
	}
	w.inRead = true
	defer func() { w.inRead = false }()
	ctx, op := w.opContext("start")
	err := w.eng.StepConnect(ctx)
	if err == nil {
		err = w.eng.StepLoad(ctx)
	}
	if err != nil {
		w.logf("session start failed: %v", short(err))
		w.sessionEnded(err)
		return false, false
	}
	w.session.up, w.session.failures = true, 0
	w.chk.knowRead(nil, op.snap, op.snapSeq, op.servedTick)
	w.logf("session started (full load)")
	return true, true
}

// sessionEnded is Run's reaction to a failed session: reconnect after a backoff, a longer one
// after REQUEST_LIMIT_EXCEEDED.
func (w *simWorld) sessionEnded(err error) {
	w.session.up = false
	w.session.failures++
	delay := 2 * time.Second
	for i := 1; i < w.session.failures && delay < 5*time.Minute; i++ {
		delay *= 2
	}
	if salesforce.IsLimitExceeded(err) {
		delay = time.Minute
	}
	w.session.downUntil = w.now().Add(delay)
}

// poll is one turn of the session loop: a poll, or a session start when none is up.
func (w *simWorld) poll() {
	if w.inRead {
		return
	}
	up, opened := w.ensureSession()
	if !up || opened {
		return
	}
	w.inRead = true
	defer func() { w.inRead = false }()
	ctx, op := w.opContext("poll")
	if err := w.eng.StepPoll(ctx); err != nil {
		w.logf("poll failed: %v", short(err))
		w.sessionEnded(err)
		return
	}
	w.chk.knowRead(nil, op.snap, op.snapSeq, op.servedTick)
	w.logf("poll")
}

// fullLoad is the session loop's periodic resync.
func (w *simWorld) fullLoad() {
	if w.inRead || !w.session.up {
		return
	}
	w.inRead = true
	defer func() { w.inRead = false }()
	ctx, op := w.opContext("load")
	if err := w.eng.StepLoad(ctx); err != nil {
		w.logf("full load failed: %v", short(err))
		w.sessionEnded(err)
		return
	}
	w.chk.knowRead(nil, op.snap, op.snapSeq, op.servedTick)
	w.logf("full load")
}

// writesHeld is the write loop's hold: a low budget, a spent API limit, a non-production org.
func (w *simWorld) writesHeld() bool {
	st := w.eng.Status()
	return st.Budget.Low || w.now().Before(w.session.limitUntil) || w.now().Before(st.Budget.LimitExceededUntil) || st.WritesBlocked != ""
}

// writeTurn is one turn of the write loop: a flush unless writes are held.
func (w *simWorld) writeTurn() int {
	if w.inWrite || !w.session.up {
		return 0
	}
	if w.writesHeld() {
		w.logf("writes held")
		return 0
	}
	w.inWrite = true
	defer func() { w.inWrite = false }()
	ctx, _ := w.opContext("flush")
	n, err := w.eng.StepFlush(ctx)
	switch {
	case err == nil:
		w.logf("flush: %d records", n)
	case salesforce.IsLimitExceeded(err):
		w.session.limitUntil = w.now().Add(time.Minute)
		w.logf("flush: %d records, limit exceeded: %v", n, short(err))
	case salesforce.IsAuth(err):
		w.logf("flush: auth failed, session ends: %v", short(err))
		w.sessionEnded(err)
	default:
		w.logf("flush: %d records, failed: %v", n, short(err))
	}
	return n
}

// restart replaces the engine, as a manager restart or a changed LicenseManagementOrg does: the
// new engine knows nothing until it loads, and every License is reconciled again.
func (w *simWorld) restart() {
	w.eng = w.newEngine()
	w.session = simSession{}
	w.restarts++
	w.chk.engineRestarted()
	w.model.queueAll()
	w.logf("engine restarted")
}

// ---- The person and the subscribers ----

// adminClient logs Dana in (once); a failed login is a failed edit.
func (w *simWorld) adminClient() (*salesforce.Client, error) {
	if w.admin != nil {
		return w.admin, nil
	}
	c, err := salesforce.New(w.ctx, salesforce.Config{InstanceURL: simInstance,
		ClientCredentials: &salesforce.ClientCredentials{ClientID: "lmo-admin", ClientSecret: "admin-secret"},
		HTTPClient:        &http.Client{Transport: &simTransport{w: w}}})
	if err != nil {
		return nil, err
	}
	w.admin = c
	return c, nil
}

// mutate runs a change of the LMO made outside the engine and books what it changed.
func (w *simWorld) mutate(author string, f func() error) error {
	err := f()
	w.chk.truthChanged(w.readTruth(), author)
	return err
}

// ---- The transport ----

// simTransport hands requests to lmosim's handler in-process. The engine's transport also lets
// the checker see every Collections call as it is sent, and holds calls in flight while other
// actions of the schedule run.
type simTransport struct {
	w      *simWorld
	engine bool
}

func (t *simTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		_ = req.Body.Close()
	}
	w := t.w
	if !t.engine {
		return w.serve(req, body), nil
	}
	w.calls++
	switch {
	case req.Method == http.MethodPatch && strings.HasSuffix(req.URL.Path, "/composite/sobjects"):
		return w.collections(req, body)
	case req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/composite"):
		return w.compositeRead(req, body), nil
	}
	return w.serve(req, body), nil
}

func (w *simWorld) serve(req *http.Request, body []byte) *http.Response {
	r := req.Clone(req.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.Host = req.URL.Host
	r.RequestURI = req.URL.RequestURI()
	r.RemoteAddr = "127.0.0.1:50000"
	rec := httptest.NewRecorder()
	w.srv.Handler().ServeHTTP(rec, r)
	resp := rec.Result()
	resp.Request = req
	return resp
}

// compositeRead serves a Composite call of the engine (a load, a poll, or the re-read of writes
// whose answer was lost) and notes the snapshot of the LMO it saw. A poll or a re-read may be held
// after it was served while other actions run: a write answered, a person's edit.
func (w *simWorld) compositeRead(req *http.Request, body []byte) *http.Response {
	op, _ := req.Context().Value(simOpKey{}).(*simOp)
	w.chk.verifyTruth()
	snap, seq, tick := w.chk.truth.clone(), w.chk.seq, w.chk.nextTick()
	resp := w.serve(req, body)
	out, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(out))
	if op == nil {
		return resp
	}
	if ids := rereadIDs(body); ids != nil {
		// The re-read of some records (writes whose answer was lost, records written while a
		// poll read them): the engine takes it when the call returns.
		w.inFlight("after a re-read was served")
		if compositeOK(resp.StatusCode, out) {
			w.chk.knowRead(ids, snap, seq, tick)
		}
		return resp
	}
	if op.snap == nil {
		op.snap, op.snapSeq, op.servedTick = snap, seq, tick
	}
	if op.kind == "poll" {
		w.inFlight("after a poll was served")
	}
	return resp
}

// collections serves the engine's Collections call: the checker judges every value as it is sent;
// the call may be held before and after Salesforce commits it while other actions run, and its
// answer may be lost after the commit.
func (w *simWorld) collections(req *http.Request, body []byte) (*http.Response, error) {
	sends := parseCollections(body)
	if string(body) == w.refused401 {
		// The client's own resend after re-authenticating: the same send, judged when it first
		// left (Salesforce refused the first attempt before reading it).
		w.logf("  the same records, resent after re-authentication")
	} else {
		w.chk.beforeSend(sends)
	}
	w.inFlight("before the write reaches Salesforce")
	w.chk.verifyTruth()
	rawBefore := w.rawExpirations(sends)
	resp := w.serve(req, body)
	out, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(out))
	w.refused401 = ""
	if resp.StatusCode == http.StatusUnauthorized {
		w.refused401 = string(body)
	}
	w.chk.truthChanged(w.readTruth(), simOperator)
	w.chk.rawExpirationsChanged(rawBefore, w.rawExpirations(sends))
	w.chk.served(sends)
	commitSeq := w.chk.seq
	w.inFlight("after the write committed")
	if w.lostShare > 0 && w.rng.Float64() < w.lostShare {
		w.chk.unknown(sends)
		if w.rng.IntN(2) == 0 {
			w.logf("the answer of %d records is lost", len(sends))
			return nil, errSimLost
		}
		w.logf("the answer of %d records is a 502", len(sends))
		return &http.Response{StatusCode: http.StatusBadGateway, Header: http.Header{"Content-Type": {"text/html"}},
			Body: io.NopCloser(strings.NewReader("<html>502 Bad Gateway</html>")), Request: req}, nil
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		w.chk.answered(sends, out, commitSeq)
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		// Refused as a whole before anything was written (after an expired session the client
		// resends the same records once it has a new token).
		w.chk.refused(sends)
	}
	return resp, nil
}

// inFlight runs a few actions of the schedule while a call is held, with the interleave share.
func (w *simWorld) inFlight(where string) {
	if w.depth >= 2 || w.interleaveShare == 0 || w.rng.Float64() >= w.interleaveShare {
		return
	}
	w.depth++
	defer func() { w.depth-- }()
	w.logf("held %s:", where)
	for n := 1 + w.rng.IntN(3); n > 0; n-- {
		w.nestedAction(simInFlight[where])
	}
}

// simInFlight weighs the actions that run while a call is held, by where it is held: the races
// that matter there (a person's edit and a poll around a write, a write around a poll).
var simInFlight = map[string]map[string]int{
	"before the write reaches Salesforce": {"human edit": 10, "poll": 6, "spec edit": 4, "reconcile": 4, "usage": 2,
		"uninstall": 1, "install": 1, "pause": 2, "approve": 1, "policy": 1, "delete": 1},
	"after the write committed":  {"human edit": 10, "poll": 8, "reconcile": 4, "spec edit": 3, "usage": 2, "uninstall": 1, "pause": 1},
	"after a poll was served":    {"write": 10, "human edit": 6, "reconcile": 4, "usage": 2, "spec edit": 2},
	"after a re-read was served": {"human edit": 8, "poll": 4, "reconcile": 2, "usage": 2},
}

// simSend is one record of a Collections call.
type simSend struct {
	id, sobject string
	fields      map[string]any
}

func parseCollections(body []byte) []simSend {
	var in struct {
		Records []map[string]json.RawMessage `json:"records"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil
	}
	out := make([]simSend, 0, len(in.Records))
	for _, r := range in.Records {
		s := simSend{fields: map[string]any{}}
		keys := make([]string, 0, len(r))
		for k := range r {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			switch k {
			case "id", "Id":
				_ = json.Unmarshal(r[k], &s.id)
			case "attributes":
				var a struct {
					Type string `json:"type"`
				}
				_ = json.Unmarshal(r[k], &a)
				s.sobject = a.Type
			default:
				var v any
				_ = json.Unmarshal(r[k], &v)
				s.fields[k] = v
			}
		}
		out = append(out, s)
	}
	return out
}

// compositeOK reports whether a Composite call and each of its subrequests succeeded.
func compositeOK(status int, body []byte) bool {
	if status != http.StatusOK {
		return false
	}
	var out struct {
		CompositeResponse []struct {
			HTTPStatusCode int `json:"httpStatusCode"`
		} `json:"compositeResponse"`
	}
	if json.Unmarshal(body, &out) != nil {
		return false
	}
	for _, r := range out.CompositeResponse {
		if r.HTTPStatusCode >= 300 {
			return false
		}
	}
	return true
}

var reRereadIDs = regexp.MustCompile(`FROM sfLma__License__c WHERE Id IN \(([^)]*)\)`)

// rereadIDs are the license ids a re-read Composite call asks for.
func rereadIDs(body []byte) []string {
	var in struct {
		CompositeRequest []struct {
			URL string `json:"url"`
		} `json:"compositeRequest"`
	}
	if json.Unmarshal(body, &in) != nil {
		return nil
	}
	var ids []string
	for _, sub := range in.CompositeRequest {
		u, err := url.Parse(sub.URL)
		if err != nil {
			continue
		}
		m := reRereadIDs.FindStringSubmatch(u.Query().Get("q"))
		if m == nil {
			continue
		}
		for _, q := range strings.Split(m[1], ",") {
			ids = append(ids, sfid.Key15(strings.Trim(strings.TrimSpace(q), "'")))
		}
	}
	return ids
}

// short is an error's first line, cut to 120 characters, for the trace.
func short(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

// rawExpirations reads, for the license records of sends, the expiration as lmosim stores it: an
// empty date and 1970-01-01 both mean Never, so the books (which hold Never) cannot tell a write of
// one over the other, though Salesforce's field history records it.
func (w *simWorld) rawExpirations(sends []simSend) map[string]string {
	out := map[string]string{}
	for _, s := range sends {
		if s.sobject != salesforce.LicenseObject {
			continue
		}
		if l, ok := w.srv.GetLicense(s.id); ok {
			raw := "null"
			if l.Expiration != nil {
				raw = *l.Expiration
			}
			out[sfid.Key15(s.id)] = raw
		}
	}
	return out
}
