package faults_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/lmosim"
	"github.com/lmo-operator/lmo-operator/internal/salesforce"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/sfid"
	"github.com/lmo-operator/lmo-operator/internal/testenv"
)

const (
	fleetSize  = 500
	packageID  = testenv.PackageID
	operatorID = testenv.OperatorClientID
	operatorPW = testenv.OperatorSecret
	// operatorUser is the name lmosim gives the operator's client in history rows and LastModifiedBy.
	operatorUser = testenv.OperatorUser
	maxProjects  = "acme__MaxProjects"
	seedSeats    = 10
	seedUsed     = 5
	seedExp      = "2027-06-30"
	seedMax      = 20
)

// Kinds of fleet members.
const (
	kindChange      = "change"      // the spec differs from the record: the operator must write it
	kindSame        = "same"        // the spec equals the record: nothing to write
	kindUninstalled = "uninstalled" // an Uninstalled record whose License asks for changes: never written
	kindHeld        = "held"        // an access reduction without the annotation: never written
)

// member is one License of the fleet and its LMO record.
type member struct {
	i          int
	name       string
	id, org    string
	kind       string
	seedStatus string
	// The spec; nil or "" leaves the field unmanaged.
	specStatus string
	specSeats  *int64
	specExp    string
	specMax    *int64
}

var uninstalledIdx = map[int]bool{1: true, 4: true, 7: true, 10: true, 13: true}
var heldIdx = map[int]bool{2: true, 5: true, 8: true, 11: true, 14: true}

// plan is the fleet: about a third (every third index) needs changes; five Uninstalled records with
// a License asking for changes; five access reductions without the annotation; the rest manage fields
// that already match.
func plan(i int) member {
	m := member{i: i, name: fmt.Sprintf("customer-%03d", i), id: fmt.Sprintf("a0N%012dAAA", i+100),
		org: fmt.Sprintf("00D%012dAAA", i+100), seedStatus: salesforce.StatusActive}
	switch {
	case uninstalledIdx[i]:
		m.kind, m.seedStatus = kindUninstalled, salesforce.StatusUninstalled
		m.specSeats, m.specMax = ptr.To[int64](99), ptr.To[int64](77)
	case heldIdx[i]:
		m.kind = kindHeld
		if i%2 == 0 {
			m.specStatus = salesforce.StatusSuspended // Active to Suspended
		} else {
			m.specSeats = ptr.To[int64](2) // below the 5 in use
		}
	case i%3 == 0:
		m.kind = kindChange
		m.specSeats = ptr.To(int64(20 + i%40))
		if (i/3)%2 == 0 {
			m.specExp = fmt.Sprintf("2028-%02d-15", 1+i%12)
		}
		if (i/3)%3 == 0 {
			m.specMax = ptr.To(int64(50 + i%10))
		}
		if (i/3)%5 == 1 {
			m.seedStatus, m.specStatus = salesforce.StatusSuspended, salesforce.StatusActive // reinstating is no reduction
		}
	default:
		m.kind = kindSame
		m.specSeats = ptr.To[int64](seedSeats)
		if i%3 == 1 {
			m.specExp, m.specStatus = seedExp, salesforce.StatusActive
		}
	}
	return m
}

// overrideSeats replaces the planned seats of some members once their spec was changed (spec 9).
var overrideSeats map[string]int64

func fleet() []member {
	out := make([]member, fleetSize)
	for i := range out {
		out[i] = plan(i)
		if v, ok := overrideSeats[out[i].name]; ok {
			out[i].specSeats = ptr.To(v)
		}
	}
	return out
}

// want is the record a member must end with: the spec where the operator writes, the seed elsewhere.
func (m member) want() (status string, seats float64, exp string, projectsMax int64) {
	status, seats, exp, projectsMax = m.seedStatus, seedSeats, seedExp, seedMax
	if m.kind != kindChange {
		return
	}
	if m.specStatus != "" {
		status = m.specStatus
	}
	if m.specSeats != nil {
		seats = float64(*m.specSeats)
	}
	if m.specExp != "" {
		exp = m.specExp
	}
	if m.specMax != nil {
		projectsMax = *m.specMax
	}
	return
}

// seedYAML is the LMO: one package with an LMO-to-Subscriber Integer and Boolean parameter, and the
// fleet's records.
func seedYAML() string {
	var b strings.Builder
	for _, m := range fleet() {
		fmt.Fprintf(&b, "  - {id: %s, subscriberOrgID: %s, packageID: %s, status: %s, seats: %d, expiration: %q, usedLicenses: %d, featureParameters: {acme__MaxProjects: %d, acme__AdvancedReporting: false}}\n",
			m.id, m.org, packageID, m.seedStatus, seedSeats, seedExp, seedUsed, seedMax)
	}
	return testenv.Seed{APIDailyLimit: 1000000, FeatureParameters: []string{testenv.MaxProjects, testenv.AdvancedReporting},
		Licenses: b.String()}.YAML()
}

// sim is an lmosim, in-process or a process, driven through its admin API like any lmosim.
type sim struct {
	url    string
	server *lmosim.Server // nil for a process
	admin  *salesforce.Client
}

// startSim starts an in-process lmosim on a loopback port.
func startSim() *sim {
	srv, url := testenv.StartSim(GinkgoT(), seedYAML(), lmosim.Options{})
	return &sim{url: url, server: srv}
}

func (s *sim) adminCall(g Gomega, method, path string, body any, out any) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		g.Expect(err).NotTo(HaveOccurred())
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, rd)
	g.Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	g.Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	g.Expect(resp.StatusCode).To(BeNumerically("<", 300), "%s %s: %s", method, path, data)
	if out != nil {
		g.Expect(json.Unmarshal(data, out)).To(Succeed())
	}
}

func (s *sim) addFault(g Gomega, f lmosim.Fault) {
	s.adminCall(g, http.MethodPost, "/__sim/faults", f, nil)
}
func (s *sim) clearFaults(g Gomega) { s.adminCall(g, http.MethodDelete, "/__sim/faults", nil, nil) }
func (s *sim) faults(g Gomega) []lmosim.Fault {
	var out []lmosim.Fault
	s.adminCall(g, http.MethodGet, "/__sim/faults", nil, &out)
	return out
}
func (s *sim) stats(g Gomega) lmosim.Stats {
	var out lmosim.Stats
	s.adminCall(g, http.MethodGet, "/__sim/stats", nil, &out)
	return out
}

// reader is the REST client of the person in the LMO (lmo-admin), made lazily so that its token call
// does not fall in a fault window.
func (s *sim) reader(g Gomega) *salesforce.Client {
	if s.admin == nil {
		c, err := salesforce.New(ctx, salesforce.Config{InstanceURL: s.url,
			ClientCredentials: &salesforce.ClientCredentials{ClientID: "lmo-admin", ClientSecret: "admin-secret"}})
		g.Expect(err).NotTo(HaveOccurred())
		s.admin = c
	}
	return s.admin
}

// delta is the calls between two stats snapshots: the total and the non-zero kinds.
func delta(before, after lmosim.Stats) (int64, string) {
	var total int64
	var parts []string
	for _, k := range []string{"token", "query", "queryMore", "rowGet", "rowPatch", "collectionsPatch", "composite", "describe", "limits", "versions", "other"} {
		d := after.Calls[k] - before.Calls[k]
		total += d
		if d != 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, d))
		}
	}
	return total, strings.Join(parts, ", ")
}

// env is a namespace with the Secret, the LicenseManagementOrg (pollInterval 10s) and the ManagedPackage.
type env struct {
	ns  string
	sim *sim
}

func newEnv(g Gomega, ns string, s *sim) *env {
	err := k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	if !apierrors.IsAlreadyExists(err) {
		g.Expect(err).NotTo(HaveOccurred())
	}
	_, err = testenv.CreateAcme(ctx, k8sClient, ns, s.url, operatorPW)
	g.Expect(err).NotTo(HaveOccurred())
	return &env{ns: ns, sim: s}
}

// stop deletes the LicenseManagementOrg, which stops its engine.
func (e *env) stop() {
	_ = k8sClient.Delete(ctx, &licensingv1alpha1.LicenseManagementOrg{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "acme"}})
}

// lmoCondition is the status and reason of a condition of the LicenseManagementOrg.
func (e *env) lmoCondition(g Gomega, typ string) (metav1.ConditionStatus, string, string) {
	var lmo licensingv1alpha1.LicenseManagementOrg
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: "acme"}, &lmo)).To(Succeed())
	c := testenv.Condition(lmo.Status.Conditions, typ)
	return c.Status, c.Reason, c.Message
}

// waitLMOReady waits for the engine to be connected with its mirror loaded.
func (e *env) waitLMOReady(g Gomega, timeout time.Duration) {
	g.Eventually(func(g Gomega) {
		st, reason, msg := e.lmoCondition(g, licensingv1alpha1.ConditionReady)
		g.Expect(st).To(Equal(metav1.ConditionTrue), "%s: %s", reason, msg)
	}).WithTimeout(timeout).WithPolling(500 * time.Millisecond).Should(Succeed())
}

func licenseFor(ns string, m member) *licensingv1alpha1.License {
	l := &licensingv1alpha1.License{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: m.name},
		Spec: licensingv1alpha1.LicenseSpec{PackageRef: licensingv1alpha1.LocalObjectReference{Name: "acme-projects"},
			SubscriberOrgID: m.org, Expiration: m.specExp},
	}
	if m.kind == kindUninstalled {
		l.Spec.SubscriberOrgID, l.Spec.LicenseID = "", m.id
	}
	if m.specStatus != "" {
		l.Spec.Status = licensingv1alpha1.LicenseStatus(m.specStatus)
	}
	if m.specSeats != nil {
		l.Spec.Seats = ptr.To(intstr.FromInt(int(*m.specSeats)))
	}
	if m.specMax != nil {
		l.Spec.FeatureParameters = []licensingv1alpha1.FeatureParameterValue{{Name: maxProjects, Integer: ptr.To(*m.specMax)}}
	}
	return l
}

// createFleet creates the 500 Licenses, eight at a time.
func (e *env) createFleet(g Gomega) {
	members := fleet()
	work := make(chan member)
	errs := make(chan error, len(members))
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range work {
				if err := k8sClient.Create(ctx, licenseFor(e.ns, m)); err != nil {
					errs <- fmt.Errorf("creating %s: %w", m.name, err)
				}
			}
		}()
	}
	for _, m := range members {
		work <- m
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		g.Expect(err).NotTo(HaveOccurred())
	}
}

func condition(conds []metav1.Condition, typ string) (metav1.ConditionStatus, string) {
	for _, c := range conds {
		if c.Type == typ {
			return c.Status, c.Reason
		}
	}
	return "", ""
}

// converged reports how many Licenses of the fleet show their final condition, and a sample of the
// others: a change or same member Ready with a current observedGeneration, an Uninstalled one Stalled
// (Uninstalled), a held one Ready=False (AccessReductionHeld).
func (e *env) converged(g Gomega) (int, []string) {
	var list licensingv1alpha1.LicenseList
	g.Expect(k8sClient.List(ctx, &list, client.InNamespace(e.ns))).To(Succeed())
	byName := map[string]licensingv1alpha1.License{}
	for _, l := range list.Items {
		byName[l.Name] = l
	}
	ok := 0
	var pending []string
	for _, m := range fleet() {
		l, found := byName[m.name]
		if !found {
			pending = append(pending, m.name+" missing")
			continue
		}
		ready, readyReason := condition(l.Status.Conditions, licensingv1alpha1.ConditionReady)
		stalled, stalledReason := condition(l.Status.Conditions, "Stalled")
		good := false
		switch m.kind {
		case kindChange, kindSame:
			good = ready == metav1.ConditionTrue && l.Status.ObservedGeneration == l.Generation
		case kindUninstalled:
			good = stalled == metav1.ConditionTrue && stalledReason == licensingv1alpha1.ReasonUninstalled
		case kindHeld:
			good = ready == metav1.ConditionFalse && readyReason == licensingv1alpha1.ReasonAccessReductionHeld
		}
		if good {
			ok++
		} else if len(pending) < 5 {
			pending = append(pending, fmt.Sprintf("%s (%s): Ready=%s/%s Stalled=%s/%s", m.name, m.kind, ready, readyReason, stalled, stalledReason))
		}
	}
	return ok, pending
}

// waitConverged waits until every License shows its final condition and returns when that happened.
func (e *env) waitConverged(g Gomega, timeout time.Duration) time.Time {
	g.Eventually(func(g Gomega) {
		ok, pending := e.converged(g)
		g.Expect(ok).To(Equal(fleetSize), "not converged: %v", pending)
	}).WithTimeout(timeout).WithPolling(time.Second).Should(Succeed())
	return time.Now()
}

// recordsState is what the LMO holds, read through REST as lmo-admin with one paged query per object.
type recordsState struct {
	licenses map[string]salesforce.License               // by 18-char id
	max      map[string]salesforce.FeatureParameterValue // MaxProjects value by license id (15 chars)
	boolean  map[string]salesforce.FeatureParameterValue // AdvancedReporting value by license id (15 chars)
	history  map[string][]salesforce.HistoryRow          // by license id (15 chars), operator rows only
	allRows  int
}

func (s *sim) read(g Gomega) recordsState {
	c := s.reader(g)
	st := recordsState{licenses: map[string]salesforce.License{}, max: map[string]salesforce.FeatureParameterValue{},
		boolean: map[string]salesforce.FeatureParameterValue{}, history: map[string][]salesforce.HistoryRow{}}
	g.Expect(salesforce.Query(ctx, c, "SELECT "+salesforce.LicenseFields+" FROM "+salesforce.LicenseObject,
		func(p []salesforce.License) error {
			for _, l := range p {
				st.licenses[l.ID] = l
			}
			return nil
		})).To(Succeed())
	for obj, into := range map[string]map[string]salesforce.FeatureParameterValue{
		salesforce.FeatureParameterInteger: st.max, salesforce.FeatureParameterBoolean: st.boolean} {
		g.Expect(salesforce.Query(ctx, c, "SELECT "+salesforce.FeatureParameterValueFields+" FROM "+obj,
			func(p []salesforce.FeatureParameterValue) error {
				for _, v := range p {
					into[sfid.Key15(v.LicenseID)] = v
				}
				return nil
			})).To(Succeed())
	}
	g.Expect(salesforce.Query(ctx, c, "SELECT "+salesforce.HistoryFields+" FROM "+salesforce.LicenseHistoryObject+" ORDER BY CreatedDate",
		func(p []salesforce.HistoryRow) error {
			for _, h := range p {
				st.allRows++
				if h.ChangedBy() == operatorUser {
					st.history[sfid.Key15(h.ParentID)] = append(st.history[sfid.Key15(h.ParentID)], h)
				}
			}
			return nil
		})).To(Succeed())
	return st
}

// historyValue is a history row's value as text: numbers without decimals, null as "".
func historyValue(raw json.RawMessage) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil || v == nil {
		return ""
	}
	switch x := v.(type) {
	case float64:
		return fmt.Sprintf("%g", x)
	case string:
		return x
	}
	return fmt.Sprint(v)
}

// verifyRecords asserts the end state of the LMO, read back through REST: every record equals its
// spec where the operator writes and its seed elsewhere; the operator's history rows are exactly one
// per changed field, with the spec's value (allowed lists extra values a spec held earlier, for the
// in-flight spec); no Uninstalled, held or unchanged record has a history row or a value record
// modified by the operator.
func verifyRecords(g Gomega, s *sim, allowed map[string][]string) {
	st := s.read(g)
	g.Expect(st.licenses).To(HaveLen(fleetSize))
	var problems []string
	bad := func(format string, args ...any) {
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	for _, m := range fleet() {
		rec, ok := st.licenses[m.id]
		if !ok {
			bad("%s: record %s missing", m.name, m.id)
			continue
		}
		status, seats, exp, projectsMax := m.want()
		if rec.Status != status {
			bad("%s (%s): status %q, want %q", m.name, m.kind, rec.Status, status)
		}
		if rec.Seats == nil || *rec.Seats != seats {
			bad("%s (%s): seats %v, want %v", m.name, m.kind, ptr.Deref(rec.Seats, -999), seats)
		}
		if rec.Expiration.String() != exp {
			bad("%s (%s): expiration %q, want %q", m.name, m.kind, rec.Expiration.String(), exp)
		}
		v := st.max[sfid.Key15(m.id)]
		if n, err := v.Int(); err != nil || n != projectsMax {
			bad("%s (%s): %s %s, want %d", m.name, m.kind, maxProjects, string(v.Value), projectsMax)
		}
		if m.kind != kindChange || m.specMax == nil || *m.specMax == seedMax {
			if v.LastModifiedBy != nil && v.LastModifiedBy.Name == operatorUser {
				bad("%s (%s): the %s value record was written by the operator, though the spec asked for no change", m.name, m.kind, maxProjects)
			}
		}
		if b := st.boolean[sfid.Key15(m.id)]; b.LastModifiedBy != nil && b.LastModifiedBy.Name == operatorUser {
			bad("%s: the unmanaged acme__AdvancedReporting value record was written", m.name)
		}

		// History: which fields must have been written, and with what.
		wantRows := map[string][]string{}
		if m.kind == kindChange {
			if m.specStatus != "" && m.specStatus != m.seedStatus {
				wantRows[salesforce.FieldStatus] = []string{m.specStatus}
			}
			if m.specSeats != nil && *m.specSeats != seedSeats {
				wantRows[salesforce.FieldSeats] = []string{fmt.Sprint(*m.specSeats)}
			}
			if m.specExp != "" && m.specExp != seedExp {
				wantRows[salesforce.FieldExpiration] = []string{m.specExp}
			}
		}
		rows := st.history[sfid.Key15(m.id)]
		got := map[string][]string{}
		for _, h := range rows {
			got[h.Field] = append(got[h.Field], historyValue(h.NewValue))
		}
		for f, vals := range got {
			want := wantRows[f]
			if want == nil {
				bad("%s (%s): the operator wrote %s = %v, which the spec did not ask for", m.name, m.kind, f, vals)
				continue
			}
			extra := allowed[m.name+"/"+f]
			if len(extra) == 0 && len(vals) != 1 {
				bad("%s: %s written %d times (%v): a duplicate or stale write", m.name, f, len(vals), vals)
			}
			for _, v := range vals {
				if v != want[0] && !contains(extra, v) {
					bad("%s: %s written with %q; the spec asked for %q", m.name, f, v, want[0])
				}
			}
			if vals[len(vals)-1] != want[0] {
				bad("%s: the last write of %s is %q, not the spec's %q", m.name, f, vals[len(vals)-1], want[0])
			}
		}
		for f, want := range wantRows {
			if len(got[f]) == 0 {
				bad("%s: no history row for %s (want %v)", m.name, f, want)
			}
		}
	}
	g.Expect(problems).To(BeEmpty(), "the LMO records do not match the fleet's spec")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// bg runs fn in the background with a Gomega of its own; wait returns its failure, if any.
type bg struct {
	done chan struct{}
	fail string
}

func background(fn func(g Gomega)) *bg {
	b := &bg{done: make(chan struct{})}
	go func() {
		defer close(b.done)
		defer func() {
			if r := recover(); r != nil {
				if f, ok := r.(bgFailure); ok {
					b.fail = string(f)
					return
				}
				b.fail = fmt.Sprint(r)
			}
		}()
		g := NewGomega(func(message string, _ ...int) { panic(bgFailure(message)) })
		fn(g)
	}()
	return b
}

type bgFailure string

func (b *bg) wait(timeout time.Duration) {
	select {
	case <-b.done:
	case <-time.After(timeout):
		Fail("the background spec did not finish in " + timeout.String())
	}
	if b.fail != "" {
		Fail(b.fail)
	}
}

var _ = GinkgoWriter
