package controllers

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/engine"
)

// drain returns the Events a fake recorder holds.
func drain(rec record.EventRecorder) []string {
	var out []string
	for {
		select {
		case e := <-rec.(*record.FakeRecorder).Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// A trial is followed through its last month: each window gives one Event, however often it is
// reconciled and however many times the reconciler is made anew (as after a restart), and every
// reconcile asks to be called again when the next window begins.
func TestExpiryNoticesAreGivenOncePerWindowAcrossRestarts(t *testing.T) {
	const recordID = "a0N000000000001AAA"
	seats := int64(10)
	eng := newFakeLMO(testPackages(), testParams(), engine.License{ID: recordID, Name: "L-00001", PackageID: testPackageID,
		SubscriberOrgID: "00D5g000004XyZ1AAA", Status: "Trial", Seats: &seats, Expiration: "2026-12-31"})
	lic := license("globex", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), func(l *licensingv1alpha1.License) {
		l.Spec.SubscriberOrgID = "00D5g000004XyZ1AAA"
		l.Spec.ManagementPolicy = licensingv1alpha1.PolicyObserve
	})
	steps := []struct {
		now         time.Time
		wantEvent   string // substring of the one Event wanted; "" for none
		wantRequeue time.Time
	}{
		{time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC), "", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(2026, 12, 1, 0, 0, 1, 0, time.UTC), "Normal TrialExpiring The trial of license L-00001 (subscriber 00D5g000004XyZ1AAA) ends in 30 days, on 2026-12-31",
			time.Date(2026, 12, 24, 0, 0, 0, 0, time.UTC)},
		{time.Date(2026, 12, 10, 0, 0, 0, 0, time.UTC), "", time.Date(2026, 12, 24, 0, 0, 0, 0, time.UTC)},
		{time.Date(2026, 12, 25, 8, 0, 0, 0, time.UTC), "Warning TrialExpiring The trial of license L-00001 (subscriber 00D5g000004XyZ1AAA) ends in 6 days, on 2026-12-31",
			time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC), "", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(2027, 1, 1, 0, 0, 2, 0, time.UTC), "Warning TrialLapsed The trial of license L-00001 (subscriber 00D5g000004XyZ1AAA) ended on 2026-12-31 without converting to Active",
			time.Time{}},
	}
	for i, step := range steps {
		for restart := range 2 {
			c := newFakeClient(t, managedPackage(), lic.DeepCopy())
			r := &LicenseReconciler{deps: newTestDeps(c, step.now)}
			for rec := range 3 {
				res, err := r.reconcileWith(context.Background(), lic, managedPackage(), eng)
				if err != nil {
					t.Fatal(err)
				}
				if step.wantRequeue.IsZero() {
					if res.RequeueAfter != 0 {
						t.Errorf("step %d: requeued after %s, want no requeue", i, res.RequeueAfter)
					}
				} else if got := step.now.Add(res.RequeueAfter); got.Before(step.wantRequeue) || got.After(step.wantRequeue.Add(2*time.Second)) {
					t.Errorf("step %d: requeued for %s, want %s", i, got, step.wantRequeue)
				}
				events := drain(r.recorder)
				want := 0
				if step.wantEvent != "" && restart == 0 && rec == 0 {
					want = 1
				}
				if len(events) != want {
					t.Fatalf("step %d, restart %d, reconcile %d: events %q, want %d", i, restart, rec, events, want)
				}
				if want == 1 && !strings.Contains(events[0], step.wantEvent) {
					t.Errorf("step %d: event %q, want %q", i, events[0], step.wantEvent)
				}
			}
		}
	}
	if n := lic.Status.ExpiryNotice; n == nil || n.Window != licensingv1alpha1.ExpiryWindowLapsed || n.Expiration != "2026-12-31" || n.Term != "Trial" {
		t.Errorf("status.expiryNotice = %+v, want the lapse of the trial ending 2026-12-31", n)
	}
}

// A paid license renewed after its 7-day notice starts its notices again for the new date.
func TestRenewalNoticesStartAgainForANewExpiration(t *testing.T) {
	const recordID = "a0N000000000001AAA"
	rec := engine.License{ID: recordID, Name: "L-00001", PackageID: testPackageID, SubscriberOrgID: "00D5g000004XyZ1AAA",
		Status: "Active", Expiration: "2026-12-31"}
	lic := license("globex", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), func(l *licensingv1alpha1.License) {
		l.Spec.SubscriberOrgID = "00D5g000004XyZ1AAA"
		l.Spec.ManagementPolicy = licensingv1alpha1.PolicyObserve
	})
	now := time.Date(2026, 12, 28, 9, 0, 0, 0, time.UTC)
	reconcile := func(rec engine.License) []string {
		r := &LicenseReconciler{deps: newTestDeps(newFakeClient(t, managedPackage(), lic.DeepCopy()), now)}
		if _, err := r.reconcileWith(context.Background(), lic, managedPackage(), newFakeLMO(testPackages(), testParams(), rec)); err != nil {
			t.Fatal(err)
		}
		return drain(r.recorder)
	}
	if ev := reconcile(rec); len(ev) != 1 || !strings.Contains(ev[0], "Warning RenewalDue The license L-00001 (subscriber 00D5g000004XyZ1AAA) expires in 3 days, on 2026-12-31") {
		t.Fatalf("events %q, want one RenewalDue", ev)
	}
	rec.Expiration = "2027-01-20"
	if ev := reconcile(rec); len(ev) != 1 || !strings.Contains(ev[0], "Normal RenewalDue The license L-00001 (subscriber 00D5g000004XyZ1AAA) expires in 23 days, on 2027-01-20") {
		t.Fatalf("events %q, want one RenewalDue for the new date", ev)
	}
	rec.Expiration = "Never"
	if ev := reconcile(rec); len(ev) != 0 {
		t.Fatalf("events %q for a license that no longer expires", ev)
	}
}

// Two Licenses that name one record: only the one that owns it gives the record's notices.
func TestOnlyTheOwningLicenseGivesExpiryNotices(t *testing.T) {
	rec := engine.License{ID: "a0N000000000001AAA", Name: "L-00001", PackageID: testPackageID, SubscriberOrgID: "00D5g000004XyZ1AAA",
		Status: "Trial", Expiration: "2026-12-31"}
	bySubscriber := func(l *licensingv1alpha1.License) { l.Spec.SubscriberOrgID = "00D5g000004XyZ1AAA" }
	older := license("globex", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), bySubscriber)
	newer := license("globex-copy", time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC), bySubscriber)
	r := &LicenseReconciler{deps: newTestDeps(newFakeClient(t, managedPackage(), older, newer), time.Date(2026, 12, 28, 9, 0, 0, 0, time.UTC))}
	eng := newFakeLMO(testPackages(), testParams(), rec)
	for _, l := range []*licensingv1alpha1.License{newer, older} {
		if _, err := r.reconcileWith(context.Background(), l, managedPackage(), eng); err != nil {
			t.Fatal(err)
		}
	}
	if ev := drain(r.recorder); len(ev) != 1 || !strings.Contains(ev[0], "TrialExpiring") {
		t.Errorf("events %q, want one TrialExpiring", ev)
	}
	if newer.Status.ExpiryNotice != nil || older.Status.ExpiryNotice == nil {
		t.Errorf("expiryNotice: owner %+v, other %+v", older.Status.ExpiryNotice, newer.Status.ExpiryNotice)
	}
}

// staleLicenses reads every License as it was at its first read, as an informer cache that has not
// yet seen the controller's own status write does; everything else goes to the client.
type staleLicenses struct {
	client.Client
	seen map[client.ObjectKey]*licensingv1alpha1.License
}

func (s *staleLicenses) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	lic, ok := obj.(*licensingv1alpha1.License)
	if !ok {
		return s.Client.Get(ctx, key, obj, opts...)
	}
	if old, ok := s.seen[key]; ok {
		old.DeepCopyInto(lic)
		return nil
	}
	if err := s.Client.Get(ctx, key, lic, opts...); err != nil {
		return err
	}
	s.seen[key] = lic.DeepCopy()
	return nil
}

// engines maps LMO keys to fake engines.
type engines map[string]engine.LMO

func (e engines) Get(key string) (engine.LMO, bool) { l, ok := e[key]; return l, ok }

// A reconcile that reads a copy of the License older than its own last status write (the cache
// lags) must not give again an Event the status records as given (an expiry notice, a hold, a first
// refusal): the Events are given only by the reconcile whose status write was stored.
func TestEventsAreGivenOnlyWithTheStatusThatRecordsThem(t *testing.T) {
	seats := int64(10)
	cases := []struct {
		name   string
		spec   func(*licensingv1alpha1.License)
		record engine.License
		reason string
		check  func(licensingv1alpha1.LicenseResourceStatus) bool
	}{
		{"a trial's 7-day notice", func(l *licensingv1alpha1.License) { l.Spec.ManagementPolicy = licensingv1alpha1.PolicyObserve },
			engine.License{Status: "Trial", Expiration: "2026-12-31"}, licensingv1alpha1.ReasonTrialExpiring,
			func(st licensingv1alpha1.LicenseResourceStatus) bool {
				return st.ExpiryNotice != nil && st.ExpiryNotice.Window == licensingv1alpha1.ExpiryWindow7Days
			}},
		{"a held seat reduction", func(l *licensingv1alpha1.License) { l.Spec.Seats = ptrTo(intstr.FromInt(5)) },
			engine.License{Status: "Active", Seats: &seats, Expiration: "Never"}, licensingv1alpha1.ReasonAccessReductionHeld,
			func(st licensingv1alpha1.LicenseResourceStatus) bool { return st.HeldChange != nil }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lic := license("globex", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), func(l *licensingv1alpha1.License) {
				l.Spec.SubscriberOrgID = "00D5g000004XyZ1AAA"
				tc.spec(l)
			})
			rec := tc.record
			rec.ID, rec.Name, rec.PackageID, rec.SubscriberOrgID = "a0N000000000001AAA", "L-00001", testPackageID, "00D5g000004XyZ1AAA"
			c := &staleLicenses{Client: newFakeClient(t, managedPackage(), lic), seen: map[client.ObjectKey]*licensingv1alpha1.License{}}
			d := newTestDeps(c, time.Date(2026, 12, 25, 8, 0, 0, 0, time.UTC))
			d.engines = engines{testNS + "/" + testLMO: newFakeLMO(testPackages(), testParams(), rec)}
			r := &LicenseReconciler{deps: d}
			req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(lic)}
			for i := range 3 {
				if _, err := r.Reconcile(context.Background(), req); err != nil {
					t.Fatalf("reconcile %d: %v", i, err)
				}
			}
			if ev := drain(r.recorder); len(ev) != 1 || !strings.Contains(ev[0], " "+tc.reason+" ") {
				t.Errorf("events %q, want one %s", ev, tc.reason)
			}
			var stored licensingv1alpha1.License
			if err := c.Client.Get(context.Background(), req.NamespacedName, &stored); err != nil {
				t.Fatal(err)
			}
			if !tc.check(stored.Status) {
				t.Errorf("stored status %+v does not record the %s", stored.Status, tc.name)
			}
		})
	}
}
