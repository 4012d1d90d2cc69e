package controllers

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/engine"
)

// Bug 10: package defaults under Enforce bypassed every guard, were enforced again after a restart
// (the set of enforced installs lived in memory), ignored Licenses that pin a record by licenseID,
// and applied to installs before the ManagedPackage existed.

var defaultsNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// enforceTrial30 declares Trial, 30 days, 10 seats under Enforce.
func enforceTrial30(p *licensingv1alpha1.ManagedPackage) {
	p.Spec.Defaults = &licensingv1alpha1.PackageDefaults{Status: licensingv1alpha1.LicenseStatusTrial,
		TrialDays: ptrTo[int32](30), Seats: intstr.FromInt(10)}
	p.Spec.DefaultsPolicy = licensingv1alpha1.PolicyEnforce
}

// install is a Trial record installed on date with the given seats and expiration.
func install(id, subscriber, date string, seats int64, expiration string) engine.License {
	return engine.License{ID: id, Name: "L-" + id[len(id)-5:], PackageID: testPackageID, SubscriberOrgID: subscriber,
		Status: "Trial", Seats: &seats, Expiration: expiration, InstallDate: date}
}

// reconcilePackage runs a new ManagedPackageReconciler (as after a restart) over the objects and
// engine, and returns the package with the status it computed.
func reconcilePackage(t *testing.T, eng *fakeLMO, pkg *licensingv1alpha1.ManagedPackage, objs ...client.Object) *licensingv1alpha1.ManagedPackage {
	t.Helper()
	c := newFakeClient(t, append([]client.Object{pkg}, objs...)...)
	r := &ManagedPackageReconciler{deps: newTestDeps(c, defaultsNow)}
	pkg = pkg.DeepCopy()
	r.reconcileWith(context.Background(), pkg, eng)
	return pkg
}

func TestDefaultsAreNotEnforcedAgainAfterARestartOnARecordAPersonChanged(t *testing.T) {
	// Installed on 2026-11-20 with the defaults; a person then gave it 99 seats. The history shows the
	// change, so no reconciler, old or new, sets it back to 10.
	changed := install("a0N000000000101AAA", "00D5g00000NeW01AAA", "2026-11-20", 99, "2026-12-20")
	changed.TermsChanged = true
	eng := newFakeLMO(testPackages(), testParams(), changed)
	for restart := range 2 {
		reconcilePackage(t, eng, managedPackage(enforceTrial30))
		if w := eng.writes(); len(w) != 0 {
			t.Fatalf("after restart %d: defaults were written over a person's change: %+v", restart, w)
		}
	}
}

func TestDefaultsAreEnforcedOnAnUntouchedInstallOnly(t *testing.T) {
	fresh := install("a0N000000000102AAA", "00D5g00000NeW02AAA", "2026-11-20", 5, "2026-12-20")
	eng := newFakeLMO(testPackages(), testParams(), fresh)
	pkg := reconcilePackage(t, eng, managedPackage(enforceTrial30))
	w := eng.writes()
	if len(w) != 1 || w[0].Seats == nil || *w[0].Seats != 10 || w[0].Status != nil || w[0].Expiration != nil {
		t.Fatalf("writes %+v, want one write of seats 10 only", w)
	}
	if pkg.Status.Defaults == nil || pkg.Status.Defaults.Enforced != 1 {
		t.Errorf("status.defaults %+v, want enforced 1", pkg.Status.Defaults)
	}
}

func TestDefaultsNeverWriteARecordALicensePinsByLicenseID(t *testing.T) {
	rec := install("a0N000000000103AAA", "00D5g00000NeW03AAA", "2026-11-20", 5, "2026-12-20")
	eng := newFakeLMO(testPackages(), testParams(), rec)
	pinned := license("pinned", defaultsNow.AddDate(0, -1, 0), func(l *licensingv1alpha1.License) {
		l.Spec.LicenseID = rec.ID
		l.Spec.ManagementPolicy = licensingv1alpha1.PolicyObserve
	})
	reconcilePackage(t, eng, managedPackage(enforceTrial30), pinned)
	if w := eng.writes(); len(w) != 0 {
		t.Fatalf("defaults wrote a record License %s pins: %+v", pinned.Name, w)
	}
}

func TestDefaultsThatWouldCutAccessAreHeld(t *testing.T) {
	for name, rec := range map[string]engine.License{
		// 30 trial days from 2026-10-01 ended on 2026-10-31, before today.
		"an expiration already past": install("a0N000000000104AAA", "00D5g00000NeW04AAA", "2026-10-01", 10, "2027-01-31"),
		"seats below those in use": func() engine.License {
			l := install("a0N000000000105AAA", "00D5g00000NeW05AAA", "2026-11-20", 20, "2026-12-20")
			used := int64(15)
			l.UsedLicenses = &used
			return l
		}(),
		"an Active install to Trial": func() engine.License {
			l := install("a0N000000000106AAA", "00D5g00000NeW06AAA", "2026-11-20", 10, engine.Never)
			l.Status = "Active"
			return l
		}(),
	} {
		t.Run(name, func(t *testing.T) {
			eng := newFakeLMO(testPackages(), testParams(), rec)
			pkg := reconcilePackage(t, eng, managedPackage(enforceTrial30))
			if w := eng.writes(); len(w) != 0 {
				t.Fatalf("defaults that cut access were written: %+v", w)
			}
			reason, msg := conditionOf(pkg.Status.Conditions, licensingv1alpha1.ConditionDefaultsMatch)
			if reason != licensingv1alpha1.ReasonDefaultsMismatch || !strings.Contains(msg, "held") || !strings.Contains(msg, rec.Name) {
				t.Errorf("DefaultsMatch %q %q, want %s saying %s is held", reason, msg, licensingv1alpha1.ReasonDefaultsMismatch, rec.Name)
			}
		})
	}
}

func TestDefaultsEffectiveFromBeforeCreationNeedsApproval(t *testing.T) {
	// The ManagedPackage was created on 2026-11-01; an install of 2026-10-28 predates it.
	early := install("a0N000000000107AAA", "00D5g00000NeW07AAA", "2026-10-28", 5, "2026-11-27")
	backdated := func(p *licensingv1alpha1.ManagedPackage) {
		enforceTrial30(p)
		p.CreationTimestamp = metav1.NewTime(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
		from := metav1.NewTime(time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))
		p.Spec.DefaultsEffectiveFrom = &from
	}

	eng := newFakeLMO(testPackages(), testParams(), early)
	pkg := reconcilePackage(t, eng, managedPackage(backdated))
	if w := eng.writes(); len(w) != 0 {
		t.Fatalf("defaults were written to an install before the ManagedPackage existed, without approval: %+v", w)
	}
	_, msg := conditionOf(pkg.Status.Conditions, licensingv1alpha1.ConditionDefaultsMatch)
	if !strings.Contains(msg, "2026-11-01") || !strings.Contains(msg, licensingv1alpha1.AnnotationAllowDefaultsBeforeCreation) {
		t.Errorf("DefaultsMatch message %q does not say the creation date is used and how to approve", msg)
	}

	eng = newFakeLMO(testPackages(), testParams(), early)
	reconcilePackage(t, eng, managedPackage(backdated, func(p *licensingv1alpha1.ManagedPackage) {
		p.Annotations = map[string]string{licensingv1alpha1.AnnotationAllowDefaultsBeforeCreation: "true"}
	}))
	if w := eng.writes(); len(w) != 1 {
		t.Errorf("with the approval the early install is enforced: writes %+v", w)
	}
}
