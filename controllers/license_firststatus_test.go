package controllers

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/engine"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/sfid"
)

// statusPatches counts the status writes a client makes.
type statusPatches struct {
	client.Client
	n *int
}

func (c statusPatches) Status() client.SubResourceWriter {
	return countedStatus{c.Client.Status(), c.n}
}

type countedStatus struct {
	client.SubResourceWriter
	n *int
}

func (w countedStatus) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	*w.n++
	return w.SubResourceWriter.Patch(ctx, obj, patch, opts...)
}

// A new License whose record needs a write gets one status write, when the write has landed, as
// long as it lands within firstStatusHold: the WriteQueued status in between would be a second
// write per License (a cold start's 30% that differ made it 1.3 writes per License), and the API
// server's default observedGeneration 0 already shows kstatus the License is InProgress. A write that
// takes longer shows WriteQueued once the hold has passed.
func TestANewLicenseIsWrittenOnceWhenItsWriteLandsSoon(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	seats := int64(10)
	cases := []struct {
		name      string
		landAfter time.Duration // when the reconcile after the write runs
		lands     bool
		want      []string // the Ready reason stored after each reconcile; "" for none stored yet
	}{
		{"the write lands within the hold", 2 * time.Second, true, []string{"", licensingv1alpha1.ReasonSynced}},
		{"the hold passes before the write lands", firstStatusHold + time.Second, false,
			[]string{"", licensingv1alpha1.ReasonWriteQueued}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lic := license("globex", t0, func(l *licensingv1alpha1.License) {
				l.Spec.SubscriberOrgID = "00D5g000004XyZ1AAA"
				l.Spec.Seats = ptrTo(intstr.FromInt(20))
			})
			rec := engine.License{ID: "a0N000000000001AAA", Name: "L-00001", PackageID: testPackageID,
				SubscriberOrgID: "00D5g000004XyZ1AAA", Status: "Active", Seats: &seats, Expiration: "Never"}
			writes := 0
			c := statusPatches{Client: newFakeClient(t, managedPackage(), lic), n: &writes}
			now := t0
			d := newTestDeps(c, t0)
			d.opts.Now = func() time.Time { return now }
			fake := newFakeLMO(testPackages(), testParams(), rec)
			d.engines = engines{testNS + "/" + testLMO: fake}
			r := &LicenseReconciler{deps: d}
			req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(lic)}
			stored := func() string {
				var l licensingv1alpha1.License
				if err := c.Get(context.Background(), req.NamespacedName, &l); err != nil {
					t.Fatal(err)
				}
				reason, _ := conditionOf(l.Status.Conditions, licensingv1alpha1.ConditionReady)
				return reason
			}

			res, err := r.Reconcile(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if len(fake.writes()) != 1 {
				t.Fatalf("%d writes queued, want 1", len(fake.writes()))
			}
			if got := stored(); got != tc.want[0] {
				t.Errorf("after the first reconcile the Ready reason stored is %q, want %q", got, tc.want[0])
			}
			if res.RequeueAfter <= 0 || res.RequeueAfter > firstStatusHold {
				t.Errorf("the first reconcile asks to be called again after %s, want within %s", res.RequeueAfter, firstStatusHold)
			}

			now = t0.Add(tc.landAfter)
			if tc.lands {
				fake.mu.Lock()
				fake.licenses[0].Seats = ptrTo(int64(20))
				fake.written = map[string]engine.WriteState{sfid.Key15(rec.ID): {}}
				fake.mu.Unlock()
			}
			if _, err := r.Reconcile(context.Background(), req); err != nil {
				t.Fatal(err)
			}
			if got := stored(); got != tc.want[1] {
				t.Errorf("after the second reconcile the Ready reason stored is %q, want %q", got, tc.want[1])
			}
			if writes != 1 {
				t.Errorf("%d status writes, want 1", writes)
			}
		})
	}
}

func TestHoldFirstStatus(t *testing.T) {
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		name               string
		written, queueOnly bool
		heldSince          time.Time
		want               time.Duration
	}{
		{"a new License that only queued a write waits for it", false, true, time.Time{}, firstStatusHold},
		{"and keeps waiting out what is left of its hold", false, true, now.Add(-3 * time.Second), firstStatusHold - 3*time.Second},
		{"until the hold has passed", false, true, now.Add(-firstStatusHold), 0},
		{"a License with a stored status is written at once", true, true, time.Time{}, 0},
		{"a new License with more to say (a deferred or failed write, a hold, a refusal) is written at once", false, false, time.Time{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := holdFirstStatus(tt.written, tt.queueOnly, tt.heldSince, now); got != tt.want {
				t.Errorf("holdFirstStatus = %s, want %s", got, tt.want)
			}
		})
	}
}

// A hold that has passed is not begun again when the status write that followed it lost a
// conflict: the next reconcile writes at once.
func TestAPassedHoldIsNotBegunAgain(t *testing.T) {
	h := newFirstHolds()
	key := client.ObjectKey{Namespace: testNS, Name: "globex"}
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	if got := h.hold(key, false, true, t0); got != firstStatusHold {
		t.Fatalf("first hold %s, want %s", got, firstStatusHold)
	}
	if got := h.hold(key, false, true, t0.Add(firstStatusHold)); got != 0 {
		t.Fatalf("hold after it passed %s, want 0", got)
	}
	if got := h.hold(key, false, true, t0.Add(firstStatusHold+time.Second)); got != 0 {
		t.Errorf("a reconcile after a lost status write was held again for %s", got)
	}
	h.end(key)
	if got := h.hold(key, false, true, t0.Add(time.Hour)); got != firstStatusHold {
		t.Errorf("after end, a License created again under the same name waits %s, want %s", got, firstStatusHold)
	}
}
