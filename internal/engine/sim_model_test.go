package engine_test

import (
	"fmt"
	"sort"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/decide"
	"github.com/lmo-operator/lmo-operator/internal/engine"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/sfid"
)

// The Kubernetes side of the simulation: License objects in memory and a controller that reconciles
// them as the License controller does — resolve the record, ask the decision procedure, submit its
// write — and answers the writer's flush-time re-check.

// simDecide is the simulation's one call of the decision procedure: the same pure function the
// License controller, the writer's flush-time re-check and `lmoctl plan` call.
func simDecide(lic *licensingv1alpha1.License, rec engine.License, owner, writesBlocked string, now time.Time) decide.Verdict {
	return decide.License(decide.Input{License: lic, Record: rec, Params: decide.ParamDefs(simParams), Owner: owner,
		WritesBlocked: writesBlocked, Today: now})
}

// simModel holds the Licenses by name and the controller's queue.
type simModel struct {
	w        *simWorld
	licenses map[string]*licensingv1alpha1.License
	next     int
	queue    map[string]bool
}

func newSimModel(w *simWorld) *simModel {
	m := &simModel{w: w, licenses: map[string]*licensingv1alpha1.License{}, queue: map[string]bool{}}
	for _, sub := range simSubscribers[:7] {
		if w.rng.IntN(6) > 0 {
			m.create(sub)
		}
	}
	return m
}

func (m *simModel) names() []string {
	out := make([]string, 0, len(m.licenses))
	for n := range m.licenses {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// create adds a License for a subscriber with a random spec.
func (m *simModel) create(sub string) *licensingv1alpha1.License {
	m.next++
	lic := &licensingv1alpha1.License{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("lic-%02d", m.next), Namespace: "sim",
			CreationTimestamp: metav1.NewTime(m.w.now().Truncate(time.Second)), Annotations: map[string]string{}},
		Spec: licensingv1alpha1.LicenseSpec{PackageRef: licensingv1alpha1.LocalObjectReference{Name: "acme"}, SubscriberOrgID: sub,
			ManagementPolicy: licensingv1alpha1.PolicyEnforce, DeletionPolicy: licensingv1alpha1.DeletionPolicyOrphan},
	}
	if m.w.rng.IntN(5) == 0 {
		lic.Spec.ManagementPolicy = licensingv1alpha1.PolicyObserve
	}
	if m.w.rng.IntN(3) == 0 {
		lic.Spec.DeletionPolicy = licensingv1alpha1.DeletionPolicySuspend
	}
	for i := 0; i < 4; i++ {
		m.editSpec(lic, i)
	}
	m.licenses[lic.Name] = lic
	m.queue[lic.Name] = true
	return lic
}

// editSpec changes one aspect of a spec: 0 status, 1 seats, 2 expiration, 3 feature parameters.
func (m *simModel) editSpec(lic *licensingv1alpha1.License, aspect int) string {
	rng, today := m.w.rng, m.w.now().UTC()
	date := func(days int) string { return today.AddDate(0, 0, days).Format(time.DateOnly) }
	s := &lic.Spec
	switch aspect {
	case 0:
		s.Status = []licensingv1alpha1.LicenseStatus{"", "Active", "Active", "Active", "Active", "Suspended", "Trial"}[rng.IntN(7)]
		return "status " + string(s.Status)
	case 1:
		switch n := rng.IntN(6); n {
		case 0:
			s.Seats = nil
		case 1:
			v := intstr.FromString(licensingv1alpha1.SiteLicense)
			s.Seats = &v
		default:
			v := intstr.FromInt32([]int32{0, 0, 10, 20, 50, 5}[n])
			s.Seats = &v
		}
		if s.Seats == nil {
			return "seats unmanaged"
		}
		return "seats " + s.Seats.String()
	case 2:
		s.Expiration = []string{"", licensingv1alpha1.Never, date(30), date(75), "2027-06-30", date(60), date(-3)}[rng.IntN(7)]
		return "expiration " + s.Expiration
	default:
		s.FeatureParameters = nil
		if rng.IntN(3) > 0 {
			n := []int64{10, 20, 30}[rng.IntN(3)]
			s.FeatureParameters = append(s.FeatureParameters, licensingv1alpha1.FeatureParameterValue{Name: "acme__MaxProjects", Integer: &n})
		}
		if rng.IntN(2) == 0 {
			b := rng.IntN(2) == 0
			s.FeatureParameters = append(s.FeatureParameters, licensingv1alpha1.FeatureParameterValue{Name: "acme__Beta", Boolean: &b})
		}
		if rng.IntN(40) == 0 {
			// A parameter the subscriber reports: the License is blocked, nothing is written.
			n := int64(7)
			s.FeatureParameters = append(s.FeatureParameters, licensingv1alpha1.FeatureParameterValue{Name: "acme__ActiveUsers", Integer: &n})
		}
		return fmt.Sprintf("featureParameters %d", len(s.FeatureParameters))
	}
}

func (m *simModel) queueAll() {
	for n := range m.licenses {
		m.queue[n] = true
	}
}

// queueSubscriber queues the Licenses naming a subscriber, as the router does for a changed record.
func (m *simModel) queueSubscriber(sub string) {
	for n, lic := range m.licenses {
		if sfid.Key15(lic.Spec.SubscriberOrgID) == sfid.Key15(sub) {
			m.queue[n] = true
		}
	}
}

// claimants are the Licenses that resolve to the record, oldest first.
func (m *simModel) claimants(recs decide.Records, recordID string) []*licensingv1alpha1.License {
	var out []*licensingv1alpha1.License
	for _, n := range m.names() {
		lic := m.licenses[n]
		if res := decide.Resolve(lic.Spec, simPackageID, recs); res.Record != nil && sfid.Key15(res.Record.ID) == sfid.Key15(recordID) {
			out = append(out, lic)
		}
	}
	return out
}

// owner is the License that owns a record among its claimants.
func owner(claims []*licensingv1alpha1.License) *licensingv1alpha1.License {
	cs := make([]decide.Claim, len(claims))
	byName := map[string]*licensingv1alpha1.License{}
	for i, c := range claims {
		cs[i] = decide.Claim{Name: c.Name, Created: c.CreationTimestamp.Time}
		byName[c.Name] = c
	}
	return byName[decide.Owner(cs)]
}

// verdict decides for a License against recs (the engine's mirror, or lmosim's truth).
func (m *simModel) verdict(lic *licensingv1alpha1.License, recs decide.Records, writesBlocked string) (decide.Verdict, *engine.License) {
	res := decide.Resolve(lic.Spec, simPackageID, recs)
	if res.Record == nil {
		return res.Verdict, nil
	}
	own := ""
	if o := owner(m.claimants(recs, res.Record.ID)); o != nil && o.Name != lic.Name {
		own = o.Name
	}
	return simDecide(lic, *res.Record, own, writesBlocked, m.w.now()), res.Record
}

// reconcile is the License controller's reconcile of one License against the engine's mirror.
func (m *simModel) reconcile(name string) {
	lic := m.licenses[name]
	if lic == nil {
		return
	}
	eng := m.w.eng
	st := eng.Status()
	if !st.Loaded {
		return
	}
	v, rec := m.verdict(lic, eng, st.WritesBlocked)
	if rec != nil {
		// The License's status shows the record as the mirror has it now.
		m.w.chk.observeReports(eng, []string{rec.ID})
	}
	deleting := !lic.DeletionTimestamp.IsZero()
	switch {
	case rec == nil && deleting && v.Action == decide.ActionAwaitingInstall, v.Action == decide.ActionRelease:
		delete(m.licenses, name)
		m.w.logf("  reconcile %s: released", name)
	case v.Action == decide.ActionUpdate:
		_, err := eng.Submit(*v.Write)
		m.w.logf("  reconcile %s: submit %s (%v)", name, writeText(*v.Write), err)
	default:
		m.w.logf("  reconcile %s: %s %s", name, v.Action, v.Reason)
	}
}

// reconcileQueued reconciles up to n queued Licenses, picked by the schedule.
func (m *simModel) reconcileQueued(n int) {
	for ; n > 0 && len(m.queue) > 0; n-- {
		names := make([]string, 0, len(m.queue))
		for q := range m.queue {
			names = append(names, q)
		}
		sort.Strings(names)
		name := names[m.w.rng.IntN(len(names))]
		delete(m.queue, name)
		m.reconcile(name)
	}
}

// reconcileAll reconciles every License, as the periodic requeue does.
func (m *simModel) reconcileAll() {
	for _, n := range m.names() {
		delete(m.queue, n)
		m.reconcile(n)
	}
}

// recheck is the engine's Recheck: the owning License's decision against the mirror as it is now.
func (m *simModel) recheck(lmo engine.LMO, licenseID string) (engine.Write, bool) {
	rec, ok := lmo.License(licenseID)
	if !ok {
		return engine.Write{}, false
	}
	o := owner(m.claimants(lmo, rec.ID))
	if o == nil {
		return engine.Write{}, false
	}
	v := simDecide(o, rec, "", lmo.Status().WritesBlocked, m.w.now())
	if v.Action != decide.ActionUpdate || v.Write == nil {
		m.w.logf("  recheck %s (%s): %s", sfid.Key15(licenseID), o.Name, v.Action)
		return engine.Write{}, false
	}
	m.w.logf("  recheck %s (%s): %s", sfid.Key15(licenseID), o.Name, writeText(*v.Write))
	return *v.Write, true
}

// checkerOwner is the checker's own answer to "which License owns the record of this subscriber":
// the oldest naming it, ties broken by name (independent of the mirror and of decide).
func (m *simModel) checkerOwner(sub string) *licensingv1alpha1.License {
	var best *licensingv1alpha1.License
	for _, n := range m.names() {
		lic := m.licenses[n]
		if sfid.Key15(lic.Spec.SubscriberOrgID) != sfid.Key15(sub) {
			continue
		}
		if best == nil || lic.CreationTimestamp.Time.Before(best.CreationTimestamp.Time) {
			best = lic
		}
	}
	return best
}

func writeText(w engine.Write) string {
	s := ""
	if w.Status != nil {
		s += " status=" + *w.Status
	}
	if w.Seats != nil {
		s += fmt.Sprintf(" seats=%d", *w.Seats)
	}
	if w.Expiration != nil {
		s += " expiration=" + *w.Expiration
	}
	names := make([]string, 0, len(w.Params))
	for n := range w.Params {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s += " " + n + "=" + w.Params[n]
	}
	if s == "" {
		return "nothing"
	}
	return s[1:]
}
