package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/drift"
	"github.com/lmo-operator/lmo-operator/internal/lmosim"
	"github.com/lmo-operator/lmo-operator/internal/salesforce"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/licstatus"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/sfid"
)

const (
	packageID  = "033000000000001AAA"
	paramName  = "acme__MaxProjects"
	namespace  = "bench"
	editLabel  = "bench.lmo-operator.dev/edit"
	operatorID = "lmo-operator"
	operatorPW = "bench-secret"
	adminID    = "lmo-admin"
	adminPW    = "admin-secret"
)

// result is what one N measured.
type result struct {
	N       int
	Changed int // Licenses whose spec differs from the LMO record

	// Cold convergence.
	CreateTime    time.Duration // first create to last create
	ReadyTime     time.Duration // first create to every License Ready (or to the timeout)
	Ready         int           // Licenses Ready when the wait ended
	NotReady      map[string]int
	ColdCalls     map[string]int64
	ColdWritten   int64
	WatchEvents   int              // License watch events the bench received until every License was Ready
	ColdKube      map[string]int64 // the manager's Kubernetes API requests by method until every License was Ready
	RSSAfterReady int64            // VmHWM, KiB
	HeapTop       string           // the manager's live heap when every License was Ready, by allocation site (go tool pprof -top)
	HeapInuse     int64            // bytes in use in that profile
	// LicenseStatusWrites are the License status writes the apiserver served until every License
	// was Ready (its apiserver_request_total; the manager was the only client writing status).
	LicenseStatusWrites statusWriteCount
	LicenseStatusErr    string // why LicenseStatusWrites could not be read, if it could not

	// The Kubernetes floor's second half: a trivial client writing one status per License, after
	// the manager stopped.
	StatusFloorTime    time.Duration
	StatusFloorWritten int

	// Steady state.
	SteadyWindow time.Duration
	SteadyCalls  map[string]int64

	// Drift.
	Edits       int
	DriftSeen   int
	DriftMedian time.Duration
	DriftP95    time.Duration
	DriftMax    time.Duration
	DriftCalls  map[string]int64 // operator calls during the drift phase (the edits themselves removed)
	DriftWindow time.Duration

	// Merge to LMO: spec changes of settled Licenses until the LMO record has the value.
	MergeRan          bool
	MergeSingle       []time.Duration // sorted latencies of the single changes that arrived
	MergeSingleMissed int
	MergeBulkN        int              // Licenses changed at once
	MergeBulkPatched  time.Duration    // until the last PATCH returned
	MergeBulkTime     time.Duration    // until the last record had its value (or the timeout)
	MergeBulkSeen     int              // records with their value when the wait ended
	MergeBulkCalls    map[string]int64 // Salesforce calls in that window, by kind

	RSSPeak      int64 // VmHWM at the end, KiB
	RSSEnd       int64 // VmRSS at the end, KiB
	ManagerCPU   time.Duration
	ColdCPU      map[string]time.Duration // CPU seconds by process during cold convergence
	ThrottleLogs int                      // client-side throttling lines in the manager's log
	LogLines     int
	LogPath      string
}

func runOne(ctx context.Context, o options, n int, dir string) (*result, error) {
	r := &result{N: n}
	today := time.Now().UTC().Truncate(24 * time.Hour)

	// lmosim with N explicit licenses.
	seed := buildSeed(n, today)
	sim, err := lmosim.New(seed, lmosim.Options{})
	if err != nil {
		return nil, fmt.Errorf("lmosim: %w", err)
	}
	simURL, err := sim.Start("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer func() { _ = sim.Close() }() // the run is over: a failed shutdown changes none of its figures
	logf("lmosim on %s with %d licenses", simURL, n)

	// Read the records back through the REST API as lmo-admin: the ids, terms and values the
	// Licenses are written against.
	admin, err := salesforce.New(ctx, salesforce.Config{InstanceURL: simURL,
		ClientCredentials: &salesforce.ClientCredentials{ClientID: adminID, ClientSecret: adminPW}})
	if err != nil {
		return nil, fmt.Errorf("lmo-admin: %w", err)
	}
	var recs []salesforce.License
	if err := salesforce.Query(ctx, admin, "SELECT "+salesforce.LicenseFields+" FROM "+salesforce.LicenseObject,
		func(p []salesforce.License) error { recs = append(recs, p...); return nil }); err != nil {
		return nil, fmt.Errorf("reading the licenses through REST: %w", err)
	}
	if len(recs) != n {
		return nil, fmt.Errorf("the LMO holds %d licenses, want %d", len(recs), n)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].SubscriberOrgID < recs[j].SubscriberOrgID })

	// The control plane.
	env := &envtest.Environment{CRDDirectoryPaths: []string{filepath.Join("config", "crd", "bases")}, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting the control plane (KUBEBUILDER_ASSETS=%s): %w", os.Getenv("KUBEBUILDER_ASSETS"), err)
	}
	defer func() { _ = env.Stop() }()
	user, err := env.AddUser(envtest.User{Name: "bench-admin", Groups: []string{"system:masters"}}, cfg)
	if err != nil {
		return nil, err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return nil, err
	}
	kcPath := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kcPath, kc, 0o600); err != nil {
		return nil, err
	}
	ucfg := rest.CopyConfig(user.Config())
	ucfg.QPS, ucfg.Burst = 2000, 4000
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = licensingv1alpha1.AddToScheme(scheme)
	kube, err := client.New(ucfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	if err := kube.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		return nil, err
	}
	if err := kube.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "lmo-client"},
		StringData: map[string]string{"client-id": operatorID, "client-secret": operatorPW}}); err != nil {
		return nil, err
	}

	// The Licenses: 30% differ from the LMO, 100 of the others are the ones edited later.
	licenses, edited, changed := buildLicenses(ctx, sim, recs, o.edits)
	r.Changed = changed
	r.Edits = len(edited)

	// Reset the counters, then start the manager: every call from here on is the operator's.
	if err := simPost(ctx, simURL+"/__sim/stats/reset"); err != nil {
		return nil, err
	}
	mgr, err := startManager(ctx, o.manager, kcPath, dir, o.memoryLimit)
	if err != nil {
		return nil, err
	}
	defer mgr.stop()
	r.LogPath = mgr.logPath
	cpu0 := processCPU()

	// Ready is followed through a watch, started before the first create.
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	watch, err := startReadyWatch(watchCtx, ucfg, scheme)
	if err != nil {
		return nil, fmt.Errorf("watching Licenses: %w", err)
	}

	// (1)+(2): create everything and wait for Ready.
	t0 := time.Now()
	lmo := &licensingv1alpha1.LicenseManagementOrg{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "acme"},
		Spec: licensingv1alpha1.LicenseManagementOrgSpec{
			InstanceURL:  simURL,
			Auth:         licensingv1alpha1.LMOAuth{ClientCredentials: &licensingv1alpha1.SecretAuth{SecretRef: licensingv1alpha1.LocalObjectReference{Name: "lmo-client"}}},
			PollInterval: &metav1.Duration{Duration: o.pollInterval},
		},
	}
	if err := kube.Create(ctx, lmo); err != nil {
		return nil, err
	}
	if err := kube.Create(ctx, &licensingv1alpha1.ManagedPackage{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "acme-projects"},
		Spec:       licensingv1alpha1.ManagedPackageSpec{LMORef: licensingv1alpha1.LocalObjectReference{Name: "acme"}, PackageID: packageID},
	}); err != nil {
		return nil, err
	}
	createErr := make(chan error, 1)
	go func() {
		createErr <- createAll(ctx, kube, licenses)
		r.CreateTime = time.Since(t0)
		logf("created %d Licenses in %s", n, r.CreateTime.Round(time.Millisecond))
	}()

	// At least 30 ms per License: 25 minutes at 50,000 on this 2-core machine's worst observed runs.
	deadline := t0.Add(max(o.readyTimeout, time.Duration(n)*30*time.Millisecond))
	lastLog := time.Now()
	for {
		if err := sleepCtx(ctx, 250*time.Millisecond); err != nil {
			return r, err
		}
		select {
		case err := <-createErr:
			if err != nil {
				return r, fmt.Errorf("creating Licenses: %w", err)
			}
			createErr = nil
		default:
		}
		ready, notReady, total, lastReady, events := watch.counts()
		r.Ready, r.NotReady, r.WatchEvents = ready, notReady, events
		if ready == n && total == n {
			r.ReadyTime = lastReady.Sub(t0)
			break
		}
		if time.Since(lastLog) >= 10*time.Second {
			lastLog = time.Now()
			logf("%s: %d/%d Licenses Ready (created %d) %v", time.Since(t0).Round(time.Second), ready, n, total, notReady)
		}
		if time.Now().After(deadline) {
			r.ReadyTime = time.Since(t0)
			logf("not every License is Ready after %s: %d/%d", o.readyTimeout, ready, n)
			break
		}
	}
	st, err := simStats(ctx, simURL)
	if err != nil {
		return r, err
	}
	r.ColdCalls, r.ColdWritten = st.Calls, st.RecordsWritten
	r.RSSAfterReady, _ = procStatus(mgr.pid(), "VmHWM")
	if r.ColdKube, err = mgr.kubeRequests(ctx); err != nil {
		logf("scraping the manager's metrics: %v", err)
	}
	if r.LicenseStatusWrites, err = licenseStatusWrites(ctx, ucfg); err != nil {
		r.LicenseStatusErr = err.Error()
		logf("scraping the apiserver's metrics: %v", err)
	}
	r.ColdCPU = subCPU(processCPU(), cpu0, mgr.pid())
	if r.HeapTop, r.HeapInuse, err = mgr.heapProfile(ctx, o.manager, filepath.Join(dir, fmt.Sprintf("heap-%d.pb.gz", n))); err != nil {
		logf("heap profile: %v", err)
	}
	logf("cold: %s, %d/%d Ready, calls %v, manager VmHWM %d MiB", r.ReadyTime.Round(100*time.Millisecond), r.Ready, n, nonZero(r.ColdCalls), r.RSSAfterReady/1024)

	ids := make([]string, len(recs))
	for i, rec := range recs {
		ids[i] = rec.ID
	}
	if o.coldOnly {
		if o.merge {
			r.MergeRan = true
			if err := measureMerge(ctx, r, kube, sim, simURL, licenses, ids, nil); err != nil {
				return r, err
			}
		}
		return r, finishWithFloor(ctx, r, mgr, kube)
	}

	// (4) steady state: 10 pollIntervals with nothing changing.
	before, err := simStats(ctx, simURL)
	if err != nil {
		return r, err
	}
	ws := time.Now()
	if err := sleepCtx(ctx, 10*o.pollInterval); err != nil {
		return r, err
	}
	after, err := simStats(ctx, simURL)
	if err != nil {
		return r, err
	}
	r.SteadyWindow = time.Since(ws)
	r.SteadyCalls = diffCalls(after.Calls, before.Calls)
	logf("steady: %v in %s", nonZero(r.SteadyCalls), r.SteadyWindow.Round(time.Second))

	// (5) drift: edit records through the REST API as lmo-admin, watch status.drift.
	if err := measureDrift(ctx, o, r, kube, admin, simURL, edited); err != nil {
		return r, err
	}

	// (6) merge to LMO: spec changes of settled Licenses until the record has the value.
	if o.merge {
		r.MergeRan = true
		if err := measureMerge(ctx, r, kube, sim, simURL, licenses, ids, edited); err != nil {
			return r, err
		}
	}
	return r, finishWithFloor(ctx, r, mgr, kube)
}

// finishWithFloor stops the manager (finish), then measures the status-write half of the
// Kubernetes floor on the control plane it leaves.
func finishWithFloor(ctx context.Context, r *result, mgr *managerProc, kube client.Client) error {
	finish(r, mgr)
	var err error
	r.StatusFloorTime, r.StatusFloorWritten, err = measureStatusFloor(ctx, kube)
	if err != nil {
		return fmt.Errorf("the status-write floor: %w", err)
	}
	logf("floor: %d status writes in %s; with the creates %s, cold all Ready %s (%.2f × floor)", r.StatusFloorWritten,
		r.StatusFloorTime.Round(100*time.Millisecond), r.kubeFloor().Round(100*time.Millisecond), r.ReadyTime.Round(100*time.Millisecond), r.floorRatio())
	return nil
}

// finish reads the manager's memory and CPU, stops it and counts its log lines.
func finish(r *result, mgr *managerProc) {
	r.RSSPeak, _ = procStatus(mgr.pid(), "VmHWM")
	r.RSSEnd, _ = procStatus(mgr.pid(), "VmRSS")
	r.ManagerCPU = processCPU()[mgr.pid()]
	mgr.stop()
	r.LogLines, r.ThrottleLogs = scanLog(mgr.logPath)
}

// buildSeed is an LMO with one package, one LMO-to-Subscriber Integer parameter and N Active
// licenses with explicit subscriber ids.
func buildSeed(n int, today time.Time) *lmosim.Seed {
	s := &lmosim.Seed{
		Organization: lmosim.SeedOrganization{ID: "00D000000000001AAA", Name: "Acme ISV", Edition: "Enterprise Edition"},
		Clients: []lmosim.SeedClient{
			{ClientID: operatorID, ClientSecret: operatorPW, Username: "integration@acme.example", Name: "Integration User"},
			{ClientID: adminID, ClientSecret: adminPW, Username: "dana.admin@acme.example", Name: "Dana Admin"},
		},
		Packages: []lmosim.SeedPackage{{
			PackageID: packageID, Name: "Acme Projects", LatestVersion: "1.4.0",
			Defaults:          lmosim.PackageDefaults{Status: licstatus.Active, Seats: 10},
			FeatureParameters: []lmosim.SeedFeatureParameter{{FullName: paramName, DataType: "Integer", Direction: "LMO to Subscriber"}},
		}},
	}
	seatChoices := []int64{10, 25, 50, 100, 250}
	for i := 0; i < n; i++ {
		seats := seatChoices[i%len(seatChoices)]
		exp := today.AddDate(0, 0, 365+i%300).Format(time.DateOnly)
		s.Licenses = append(s.Licenses, lmosim.SeedLicense{
			SubscriberOrgID: subscriberID(i), PackageID: packageID, Status: licstatus.Active, Seats: &seats, Expiration: &exp,
			UsedLicenses: seats / 2, Edition: "Enterprise Edition", Version: "1.4.0",
			FeatureParameters: map[string]any{paramName: float64(20 + i%50)},
		})
	}
	return s
}

// subscriberID is the i-th subscriber org id, 18 characters.
func subscriberID(i int) string { return sfid.To18(fmt.Sprintf("00DB%011d", i)) }

// editTarget is a License whose record the drift phase edits.
type editTarget struct {
	name  string
	id    string
	seats int64
}

// buildLicenses makes one License per record: every tenth differs in seats, every tenth+1 in
// expiration, every tenth+2 in acme__MaxProjects; the rest match, and the first `edits` of those
// carry the edit label.
func buildLicenses(_ context.Context, sim *lmosim.Server, recs []salesforce.License, edits int) ([]*licensingv1alpha1.License, []editTarget, int) {
	out := make([]*licensingv1alpha1.License, 0, len(recs))
	var edited []editTarget
	changed := 0
	for i, rec := range recs {
		seats := int64(*rec.Seats)
		exp := rec.Expiration.String()
		var maxProjects int64
		if v, ok := sim.GetLicense(rec.ID); ok {
			if f, ok := v.FeatureParameters[paramName].(float64); ok {
				maxProjects = int64(f)
			}
		}
		name := fmt.Sprintf("lic-%05d", i)
		labels := map[string]string{}
		switch i % 10 {
		case 0:
			seats += 10
			changed++
		case 1:
			e := rec.Expiration
			exp = time.Date(e.Year, e.Month, e.Day+30, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
			changed++
		case 2:
			maxProjects += 5
			changed++
		default:
			if len(edited) < edits {
				labels[editLabel] = "true"
				edited = append(edited, editTarget{name: name, id: rec.ID, seats: seats})
			}
		}
		mp := maxProjects
		s := intstr.FromInt32(int32(seats))
		out = append(out, &licensingv1alpha1.License{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: labels},
			Spec: licensingv1alpha1.LicenseSpec{
				PackageRef:        licensingv1alpha1.LocalObjectReference{Name: "acme-projects"},
				SubscriberOrgID:   rec.SubscriberOrgID,
				Status:            licensingv1alpha1.LicenseStatusActive,
				Seats:             &s,
				Expiration:        exp,
				FeatureParameters: []licensingv1alpha1.FeatureParameterValue{{Name: paramName, Integer: &mp}},
			},
		})
	}
	return out, edited, changed
}

// createAll creates the Licenses with 32 concurrent workers.
func createAll(ctx context.Context, kube client.Client, licenses []*licensingv1alpha1.License) error {
	return forEach(ctx, len(licenses), 32, func(i int) error {
		return retry5(func() error { return kube.Create(ctx, licenses[i]) })
	})
}

// forEach runs do for 0..n-1 on workers goroutines, until ctx ends or do fails; it returns the first
// failure.
func forEach(ctx context.Context, n, workers int, do func(i int) error) error {
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := do(i); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// retry5 calls do up to five times, 200 ms apart, until it succeeds.
func retry5(do func() error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = do(); err == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return err
}

func measureDrift(ctx context.Context, o options, r *result, kube client.Client, admin *salesforce.Client, simURL string, edited []editTarget) error {
	if len(edited) == 0 {
		return nil
	}
	before, err := simStats(ctx, simURL)
	if err != nil {
		return err
	}
	ws := time.Now()
	type mark struct {
		at   time.Time
		want string
		seen time.Duration
		ok   bool
	}
	marks := map[string]*mark{}
	var mu sync.Mutex
	// Spread the edits over about 5 seconds.
	gap := 5 * time.Second / time.Duration(len(edited))
	editDone := make(chan error, 1)
	go func() {
		for _, e := range edited {
			newSeats := e.seats + 5
			if err := admin.PatchRecord(ctx, salesforce.LicenseObject, e.id, map[string]any{salesforce.FieldSeats: newSeats}, time.Time{}); err != nil {
				editDone <- fmt.Errorf("editing %s through REST: %w", e.id, err)
				return
			}
			mu.Lock()
			marks[e.name] = &mark{at: time.Now(), want: drift.SeatsText(&newSeats)}
			mu.Unlock()
			if err := sleepCtx(ctx, gap); err != nil {
				editDone <- err
				return
			}
		}
		editDone <- nil
	}()
	deadline := time.Now().Add(5*time.Second + o.pollInterval + 60*time.Second)
	editsFinished := false
	for {
		if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
			return err
		}
		if !editsFinished {
			select {
			case err := <-editDone:
				if err != nil {
					return err
				}
				editsFinished = true
			default:
			}
		}
		var list licensingv1alpha1.LicenseList
		if err := kube.List(ctx, &list, client.InNamespace(namespace), client.MatchingLabels{editLabel: "true"}); err != nil {
			logf("listing edited Licenses: %v", err)
			continue
		}
		now := time.Now()
		mu.Lock()
		seen := 0
		for _, l := range list.Items {
			m := marks[l.Name]
			if m == nil {
				continue
			}
			if !m.ok {
				for _, d := range l.Status.Drift {
					if d.Field == drift.FieldSeats && d.Observed == m.want {
						m.ok, m.seen = true, now.Sub(m.at)
					}
				}
			}
			if m.ok {
				seen++
			}
		}
		mu.Unlock()
		if editsFinished && seen == len(edited) {
			break
		}
		if now.After(deadline) {
			logf("drift seen on %d of %d edited Licenses before the timeout", seen, len(edited))
			break
		}
	}
	var lat []time.Duration
	for _, m := range marks {
		if m.ok {
			lat = append(lat, m.seen)
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	r.DriftSeen = len(lat)
	if len(lat) > 0 {
		r.DriftMedian = percentile(lat, 0.5)
		r.DriftP95 = percentile(lat, 0.95)
		r.DriftMax = lat[len(lat)-1]
	}
	// Let the operator's write-back of the edits finish before counting.
	if err := sleepCtx(ctx, 15*time.Second); err != nil {
		return err
	}
	after, err := simStats(ctx, simURL)
	if err != nil {
		return err
	}
	r.DriftWindow = time.Since(ws)
	r.DriftCalls = diffCalls(after.Calls, before.Calls)
	r.DriftCalls["rowPatch"] -= int64(len(edited)) // the edits themselves, made by lmo-admin
	logf("drift: seen %d/%d, median %s, p95 %s, max %s; operator calls %v", r.DriftSeen, len(edited),
		r.DriftMedian.Round(10*time.Millisecond), r.DriftP95.Round(10*time.Millisecond), r.DriftMax.Round(10*time.Millisecond), nonZero(r.DriftCalls))
	return nil
}

// percentile is the nearest-rank percentile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	k := int(math.Ceil(p*float64(len(sorted)))) - 1
	if k < 0 {
		k = 0
	}
	return sorted[k]
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// --- lmosim admin API ---

func simPost(ctx context.Context, url string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	// lmosim's admin API takes only JSON requests (a web page cannot send them cross-origin).
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("POST %s: %s", url, resp.Status)
	}
	return nil
}

func simStats(ctx context.Context, base string) (lmosim.Stats, error) {
	var st lmosim.Stats
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/__sim/stats", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("GET /__sim/stats: %s", resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

func diffCalls(a, b map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range a {
		out[k] = v - b[k]
	}
	return out
}

func sumCalls(m map[string]int64) int64 {
	var s int64
	for _, v := range m {
		s += v
	}
	return s
}

func nonZero(m map[string]int64) string {
	var keys []string
	for k, v := range m {
		if v != 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// --- Ready tracking: one watch of every License (an informer), not a List per check ---

// readyWatch follows every License's Ready condition through an informer: the apiserver serves
// one watch, where a List of 10,000 Licenses every second would cost it a large part of a core.
type readyWatch struct {
	mu        sync.Mutex
	reason    map[string]string // name → "" when Ready, else the Ready reason (or "(none)")
	events    int
	lastReady time.Time // when the last License to become Ready did
}

func startReadyWatch(ctx context.Context, cfg *rest.Config, scheme *runtime.Scheme) (*readyWatch, error) {
	c, err := cache.New(cfg, cache.Options{Scheme: scheme, DefaultNamespaces: map[string]cache.Config{namespace: {}}})
	if err != nil {
		return nil, err
	}
	inf, err := c.GetInformer(ctx, &licensingv1alpha1.License{})
	if err != nil {
		return nil, err
	}
	w := &readyWatch{reason: map[string]string{}}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    w.observe,
		UpdateFunc: func(_, obj any) { w.observe(obj) },
		DeleteFunc: func(obj any) {
			if lic, ok := obj.(*licensingv1alpha1.License); ok {
				w.mu.Lock()
				delete(w.reason, lic.Name)
				w.mu.Unlock()
			}
		},
	}); err != nil {
		return nil, err
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("the License watch did not sync")
	}
	return w, nil
}

func (w *readyWatch) observe(obj any) {
	lic, ok := obj.(*licensingv1alpha1.License)
	if !ok {
		return
	}
	reason := "(none)"
	if c := meta.FindStatusCondition(lic.Status.Conditions, licensingv1alpha1.ConditionReady); c != nil {
		reason = c.Reason
		if c.Status == metav1.ConditionTrue && c.ObservedGeneration == lic.Generation {
			reason = ""
		}
	}
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.events++
	if prev, seen := w.reason[lic.Name]; reason == "" && (!seen || prev != "") {
		w.lastReady = now // this License just became Ready
	}
	w.reason[lic.Name] = reason
}

// counts returns how many Licenses are Ready, the others by reason, how many exist, when the last
// one became Ready, and the watch events seen.
func (w *readyWatch) counts() (ready int, notReady map[string]int, total int, lastReady time.Time, events int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	notReady = map[string]int{}
	for _, reason := range w.reason {
		total++
		if reason == "" {
			ready++
			continue
		}
		notReady[reason]++
	}
	return ready, notReady, total, w.lastReady, w.events
}

// --- the manager process ---

type managerProc struct {
	cmd        *exec.Cmd
	logPath    string
	metricsURL string
	pprofURL   string
	once       sync.Once
	done       chan struct{}
}

func startManager(ctx context.Context, bin, kubeconfig, dir string, memoryLimit int64) (*managerProc, error) {
	logPath := filepath.Join(dir, "manager.log")
	logs, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	metricsAddr, err := freeAddr()
	if err != nil {
		_ = logs.Close() // nothing was written to it yet
		return nil, err
	}
	pprofAddr, err := freeAddr()
	if err != nil {
		_ = logs.Close() // nothing was written to it yet
		return nil, err
	}
	cmd := exec.Command(bin, "--kubeconfig", kubeconfig, "--metrics-bind-address", metricsAddr, "--metrics-secure=false",
		"--health-probe-bind-address", "127.0.0.1:0", "--leader-elect=false", "--allow-insecure-loopback-http",
		"--pprof-bind-address", pprofAddr)
	cmd.Env = os.Environ()
	if memoryLimit > 0 {
		cmd.Env = append(cmd.Env, fmt.Sprintf("LMO_MEMORY_LIMIT=%d", memoryLimit))
	}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		_ = logs.Close() // the failed start is the error to report
		return nil, fmt.Errorf("starting the manager: %w", err)
	}
	m := &managerProc{cmd: cmd, logPath: logPath, metricsURL: "http://" + metricsAddr + "/metrics", pprofURL: "http://" + pprofAddr + "/debug/pprof/",
		done: make(chan struct{})}
	go func() { _ = cmd.Wait(); _ = logs.Close(); close(m.done) }() // a log that failed to close only loses its tail
	go func() {
		select {
		case <-ctx.Done():
			m.stop()
		case <-m.done:
		}
	}()
	logf("manager pid %d, log %s", cmd.Process.Pid, logPath)
	return m, nil
}

func (m *managerProc) pid() int { return m.cmd.Process.Pid }

// freeAddr is a free 127.0.0.1 port for the manager's metrics.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// kubeRequests scrapes the manager's rest_client_requests_total: its Kubernetes API requests by
// HTTP method.
func (m *managerProc) kubeRequests(ctx context.Context) (map[string]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.metricsURL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("manager metrics: %s", resp.Status)
	}
	out := map[string]int64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "rest_client_requests_total{") {
			continue
		}
		i := strings.Index(line, `method="`)
		sp := strings.LastIndexByte(line, ' ')
		if i < 0 || sp < 0 {
			continue
		}
		method := line[i+len(`method="`):]
		method = method[:strings.IndexByte(method, '"')]
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			continue
		}
		out[method] += int64(v)
	}
	return out, sc.Err()
}

// heapProfile saves the manager's heap profile (after a GC, so it shows live memory) to path and
// returns the top allocation sites by bytes in use, as `go tool pprof -top` prints them, and the
// total in use.
func (m *managerProc) heapProfile(ctx context.Context, bin, path string) (string, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.pprofURL+"heap?gc=1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", 0, fmt.Errorf("manager heap profile: %s", resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", 0, err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return "", 0, err
	}
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-sample_index=inuse_space", "-nodecount=20", bin, path).Output()
	if err != nil {
		return "", 0, fmt.Errorf("go tool pprof: %w", err)
	}
	top, inuse := summarizeTop(string(out))
	return top, inuse, nil
}

// summarizeTop keeps the table of `go tool pprof -top` (from the "flat" header on) and reads the
// total in use from its "Showing nodes accounting for X, Y% of Z total" line.
func summarizeTop(out string) (string, int64) {
	var total int64
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if j := strings.Index(l, "% of "); j >= 0 && strings.HasSuffix(strings.TrimSpace(l), "total") {
			total = parseSize(strings.TrimSuffix(strings.TrimSpace(l[j+len("% of "):]), " total"))
		}
		if strings.HasPrefix(strings.TrimSpace(l), "flat") {
			return strings.Join(lines[i:], "\n"), total
		}
	}
	return out, total
}

// parseSize reads pprof's sizes such as "512.02kB", "38.51MB" or "1.20GB".
func parseSize(s string) int64 {
	mult := map[string]float64{"B": 1, "kB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}
	for _, suf := range []string{"kB", "MB", "GB", "B"} {
		if strings.HasSuffix(s, suf) {
			v, err := strconv.ParseFloat(strings.TrimSuffix(s, suf), 64)
			if err != nil {
				return 0
			}
			return int64(v * mult[suf])
		}
	}
	return 0
}

// stop interrupts the manager and kills it after 10 seconds.
func (m *managerProc) stop() {
	m.once.Do(func() {
		select {
		case <-m.done:
			return
		default:
		}
		_ = m.cmd.Process.Signal(os.Interrupt)
		select {
		case <-m.done:
		case <-time.After(10 * time.Second):
			_ = m.cmd.Process.Kill()
			<-m.done
		}
	})
}

// procStatus reads a "VmHWM:   123 kB" style field of /proc/PID/status, in KiB.
func procStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field+":") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				return strconv.ParseInt(f[1], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// processCPU returns the CPU time (user+system) of this process and its children by pid; the
// children are the manager, kube-apiserver and etcd.
func processCPU() map[int]time.Duration {
	out := map[int]time.Duration{}
	self := os.Getpid()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 13 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		if pid != self && ppid != self {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		stt, _ := strconv.ParseInt(f[12], 10, 64)
		out[pid] = time.Duration(ut+stt) * 10 * time.Millisecond // USER_HZ is 100 on Linux
	}
	return out
}

// subCPU is the CPU used between two samples, named by process.
func subCPU(now, then map[int]time.Duration, managerPID int) map[string]time.Duration {
	out := map[string]time.Duration{}
	for pid, t := range now {
		name := procName(pid)
		switch {
		case pid == os.Getpid():
			name = "bench+lmosim"
		case pid == managerPID:
			name = "manager"
		}
		out[name] += t - then[pid]
	}
	return out
}

func procName(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return strconv.Itoa(pid)
	}
	return strings.TrimSpace(string(b))
}

// scanLog counts the manager's log lines and client-go's client-side throttling messages.
func scanLog(path string) (lines, throttled int) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0
	}
	defer func() { _ = f.Close() }() // read only
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines++
		if strings.Contains(sc.Text(), "client-side throttling") {
			throttled++
		}
	}
	return lines, throttled
}
