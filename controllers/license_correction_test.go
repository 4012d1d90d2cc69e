package controllers

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/engine"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/sfid"
)

var (
	correctionSynced = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	danaChange       = engine.FieldChange{By: "Dana Admin", Username: "dana@acme.example", At: time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC)}
)

const correctionRecord = "a0N000000000001AAA"

// syncedLicense is an Enforce License for 120 seats that last matched its record at correctionSynced.
func syncedLicense() *licensingv1alpha1.License {
	l := license("globex", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), func(l *licensingv1alpha1.License) {
		l.Spec.SubscriberOrgID = "00D5g000004XyZ1AAA"
		l.Spec.Seats = ptrTo(intstr.FromInt(120))
	})
	synced := metav1.NewTime(correctionSynced)
	l.Status.LastSyncTime = &synced
	return l
}

func correctedRecord() engine.License {
	seats := int64(120)
	return engine.License{ID: correctionRecord, Name: "L-00001", PackageID: testPackageID, SubscriberOrgID: "00D5g000004XyZ1AAA",
		Status: "Active", Seats: &seats, Expiration: "2027-06-30"}
}

// The Event of a write that puts back a person's edit says DriftCorrected and names the field, the
// person by name and username, when they changed it, and the value put back.
func TestTheWriteEventOfACorrectionNamesWhoseEditItUndoes(t *testing.T) {
	lic := syncedLicense()
	c := newFakeClient(t, managedPackage(), lic)
	d := newTestDeps(c, correctionSynced.Add(48*time.Hour))
	rt := newRouter(c, d.recorder)
	eng := newFakeLMO(testPackages(), testParams(), correctedRecord())
	lmo := types.NamespacedName{Namespace: testNS, Name: testLMO}

	rt.written(lmo, eng, []engine.WriteResult{{LicenseID: correctionRecord, Changes: []engine.FieldWrite{
		{Field: "seats", Old: "130", New: "120", Replaces: danaChange}}}})
	events := drain(d.recorder)
	want := "Normal DriftCorrected Put back seats 120 on license a0N000000000001AAA over 130, " +
		"which Dana Admin (dana@acme.example) set at 2026-11-25T10:30:00Z"
	if len(events) != 1 || events[0] != want {
		t.Errorf("events %q, want %q", events, want)
	}

	// A spec change over a value set before the License last matched is an ordinary write.
	rt.written(lmo, eng, []engine.WriteResult{{LicenseID: correctionRecord, Changes: []engine.FieldWrite{
		{Field: "seats", Old: "120", New: "150", Replaces: engine.FieldChange{By: "Dana Admin", Username: "dana@acme.example",
			At: correctionSynced.Add(-time.Hour)}}}}})
	events = drain(d.recorder)
	if len(events) != 1 || !strings.HasPrefix(events[0], "Normal LicenseWritten Wrote seats 120 → 150") {
		t.Errorf("events %q, want one LicenseWritten", events)
	}
}

// status.lastCorrection keeps the correction after the drift it ended is gone, and is written once.
func TestLastCorrectionOutlivesTheDrift(t *testing.T) {
	lic := syncedLicense()
	writtenAt := correctionSynced.Add(48 * time.Hour)
	eng := newFakeLMO(testPackages(), testParams(), correctedRecord())
	eng.written = map[string]engine.WriteState{sfid.Key15(correctionRecord): {LastWritten: writtenAt,
		LastChanges: []engine.FieldWrite{{Field: "seats", Old: "130", New: "120", Replaces: danaChange}}}}
	changedAt := metav1.NewTime(danaChange.At)
	want := &licensingv1alpha1.Correction{CorrectedAt: metav1.NewTime(writtenAt), Fields: []licensingv1alpha1.CorrectedField{{
		Field: "seats", Replaced: "130", Restored: "120", ChangedBy: "Dana Admin", ChangedByUsername: "dana@acme.example", ChangedAt: &changedAt}}}
	for i := range 3 {
		r := &LicenseReconciler{deps: newTestDeps(newFakeClient(t, managedPackage(), lic.DeepCopy()), writtenAt.Add(time.Minute))}
		before := lic.Status.DeepCopy()
		if _, err := r.reconcileWith(context.Background(), lic, managedPackage(), eng); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, lic.Status.LastCorrection); diff != "" {
			t.Fatalf("reconcile %d: status.lastCorrection (-want +got):\n%s", i, diff)
		}
		if len(lic.Status.Drift) != 0 {
			t.Errorf("reconcile %d: drift %+v after the correction", i, lic.Status.Drift)
		}
		if i > 0 && !cmp.Equal(before, &lic.Status) {
			t.Errorf("reconcile %d changed the status again:\n%s", i, cmp.Diff(before, &lic.Status))
		}
	}
}

// Drift names the person by name and username.
func TestDriftNamesThePersonByUsername(t *testing.T) {
	lic := syncedLicense()
	lic.Spec.ManagementPolicy = licensingv1alpha1.PolicyObserve
	rec := correctedRecord()
	seats := int64(130)
	rec.Seats = &seats
	seatsChange := danaChange
	seatsChange.Field = "sfLma__Seats__c"
	rec.Changes = engine.NewFieldChanges(seatsChange)
	r := &LicenseReconciler{deps: newTestDeps(newFakeClient(t, managedPackage(), lic.DeepCopy()), danaChange.At.Add(time.Minute))}
	if _, err := r.reconcileWith(context.Background(), lic, managedPackage(), newFakeLMO(testPackages(), testParams(), rec)); err != nil {
		t.Fatal(err)
	}
	if d := lic.Status.Drift; len(d) != 1 || d[0].ChangedBy != "Dana Admin" || d[0].ChangedByUsername != "dana@acme.example" {
		t.Errorf("drift %+v, want seats changed by Dana Admin (dana@acme.example)", d)
	}
}
