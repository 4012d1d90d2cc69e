package controllers

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/engine"
)

// packageRecheck is how often a ManagedPackage recounts without an event.
const packageRecheck = 5 * time.Minute

// ManagedPackageReconciler reconciles ManagedPackages: it reports each package's install base and
// checks new installs against the package defaults, setting them under the Enforce policy.
type ManagedPackageReconciler struct {
	*deps

	mu sync.Mutex
	// enforced remembers the installs whose terms were set to the defaults, so each install is set
	// once and a later edit in the LMO is left alone.
	enforced map[string]bool
	// reported remembers the mismatched installs already named in an Event.
	reported map[types.NamespacedName]string
}

// +kubebuilder:rbac:groups=licensing.lmo-operator.dev,resources=managedpackages,verbs=get;list;watch
// +kubebuilder:rbac:groups=licensing.lmo-operator.dev,resources=managedpackages/status,verbs=get;update;patch

// Reconcile reports one ManagedPackage's install base and defaults.
func (r *ManagedPackageReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var pkg licensingv1alpha1.ManagedPackage
	if err := r.Get(ctx, req.NamespacedName, &pkg); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := pkg.Status.DeepCopy()
	res := r.reconcile(ctx, &pkg)
	pkg.Status.ObservedGeneration = pkg.Generation
	if equality.Semantic.DeepEqual(before, &pkg.Status) {
		return res, nil
	}
	if err := r.Status().Update(ctx, &pkg); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return ctrl.Result{Requeue: true}, nil
		}
		return ctrl.Result{}, err
	}
	return res, nil
}

func (r *ManagedPackageReconciler) reconcile(ctx context.Context, pkg *licensingv1alpha1.ManagedPackage) ctrl.Result {
	g := pkg.Generation
	conds := &pkg.Status.Conditions
	eng, ok := r.registry.Get(pkg.Namespace + "/" + pkg.Spec.LMORef.Name)
	if !ok || !eng.Status().Loaded {
		kstatus(conds, g, false, stateReconciling, licensingv1alpha1.ReasonLMONotReady,
			"LicenseManagementOrg "+pkg.Spec.LMORef.Name+" is not ready; see its conditions")
		return ctrl.Result{RequeueAfter: waitRecheck}
	}
	record, ok := eng.Package(pkg.Spec.PackageID)
	if !ok {
		msg := "Package " + pkg.Spec.PackageID + " is not associated with the LMO: associate it in the Partner Console"
		setCondition(conds, g, licensingv1alpha1.ConditionAssociated, metav1.ConditionFalse, licensingv1alpha1.ReasonNotAssociated, msg)
		kstatus(conds, g, false, stateStalled, licensingv1alpha1.ReasonNotAssociated, msg)
		return ctrl.Result{RequeueAfter: packageRecheck}
	}
	setCondition(conds, g, licensingv1alpha1.ConditionAssociated, metav1.ConditionTrue, licensingv1alpha1.ReasonAssociated, "The package record is in the LMO")
	pkg.Status.Package = &licensingv1alpha1.PackageRecordStatus{RecordID: record.RecordID, Name: record.Name, LatestVersion: record.LatestVersion}

	licenses := eng.PackageLicenses(pkg.Spec.PackageID)
	today := r.now().UTC().Format(time.DateOnly)
	pkg.Status.InstallBase = installBase(licenses, today)

	if pkg.Spec.Defaults == nil {
		setCondition(conds, g, licensingv1alpha1.ConditionDefaultsMatch, metav1.ConditionTrue, licensingv1alpha1.ReasonNoDefaults, "The package declares no defaults")
		pkg.Status.Defaults = nil
		kstatus(conds, g, true, stateSettled, licensingv1alpha1.ReasonReady, "The package is associated with the LMO")
		return ctrl.Result{RequeueAfter: packageRecheck}
	}
	from := pkg.CreationTimestamp.Time
	if pkg.Spec.DefaultsEffectiveFrom != nil {
		from = pkg.Spec.DefaultsEffectiveFrom.Time
	}
	checked, mismatched, enforced := 0, []string{}, 0
	var watermark string
	for _, l := range licenses {
		if l.InstallDate == "" || l.InstallDate < from.UTC().Format(time.DateOnly) || l.Status == string(licensingv1alpha1.LicenseStatusUninstalled) {
			continue
		}
		checked++
		if l.InstallDate > watermark {
			watermark = l.InstallDate
		}
		w, differs := defaultsWrite(*pkg.Spec.Defaults, l)
		if !differs {
			continue
		}
		mismatched = append(mismatched, l.Name+" ("+l.SubscriberOrgID+")")
		if pkg.Spec.DefaultsPolicy != licensingv1alpha1.PolicyEnforce || r.hasLicenseResource(ctx, pkg.Namespace, l.SubscriberOrgID) {
			continue
		}
		if r.markEnforced(l.ID) {
			if _, err := eng.Submit(w); err == nil {
				enforced++
			}
		}
	}
	pkg.Status.Defaults = &licensingv1alpha1.DefaultsStatus{Checked: int32(checked), Mismatched: int32(len(mismatched)), Enforced: r.enforcedCount(pkg, enforced)}
	if watermark != "" {
		if t, err := time.Parse(time.DateOnly, watermark); err == nil {
			mt := metav1.NewTime(t)
			pkg.Status.Defaults.Watermark = &mt
		}
	}
	if len(mismatched) > 0 {
		msg := fmt.Sprintf("%d of %d installs since %s did not get the defaults", len(mismatched), checked, from.UTC().Format(time.DateOnly))
		setCondition(conds, g, licensingv1alpha1.ConditionDefaultsMatch, metav1.ConditionFalse, licensingv1alpha1.ReasonDefaultsMismatch, msg)
		r.reportMismatch(pkg, mismatched, msg)
	} else {
		setCondition(conds, g, licensingv1alpha1.ConditionDefaultsMatch, metav1.ConditionTrue, licensingv1alpha1.ReasonDefaultsMatch, "Every install checked got the defaults")
	}
	kstatus(conds, g, true, stateSettled, licensingv1alpha1.ReasonReady, "The package is associated with the LMO")
	return ctrl.Result{RequeueAfter: packageRecheck}
}

func (r *ManagedPackageReconciler) markEnforced(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.enforced == nil {
		r.enforced = map[string]bool{}
	}
	if r.enforced[id] {
		return false
	}
	r.enforced[id] = true
	return true
}

func (r *ManagedPackageReconciler) enforcedCount(pkg *licensingv1alpha1.ManagedPackage, now int) int32 {
	prev := int32(0)
	if pkg.Status.Defaults != nil {
		prev = pkg.Status.Defaults.Enforced
	}
	return prev + int32(now)
}

// reportMismatch names the mismatched installs in an Event when the set changed.
func (r *ManagedPackageReconciler) reportMismatch(pkg *licensingv1alpha1.ManagedPackage, names []string, msg string) {
	sort.Strings(names)
	shown := names
	if len(shown) > 20 {
		shown = append(shown[:20:20], fmt.Sprintf("and %d more", len(names)-20))
	}
	key := strings.Join(names, ",")
	r.mu.Lock()
	if r.reported == nil {
		r.reported = map[types.NamespacedName]string{}
	}
	same := r.reported[client.ObjectKeyFromObject(pkg)] == key
	r.reported[client.ObjectKeyFromObject(pkg)] = key
	r.mu.Unlock()
	if !same {
		r.recorder.Eventf(pkg, corev1.EventTypeWarning, licensingv1alpha1.ReasonDefaultsMismatch, "%s: %s", msg, strings.Join(shown, ", "))
	}
}

func (r *ManagedPackageReconciler) hasLicenseResource(ctx context.Context, namespace, subscriber string) bool {
	var list licensingv1alpha1.LicenseList
	if err := r.List(ctx, &list, client.InNamespace(namespace), client.MatchingFields{indexLicenseRecord: subscriberKey(subscriber)}); err != nil {
		return true // when in doubt, do not write
	}
	return len(list.Items) > 0
}

// installBase counts a package's licenses by state. today is YYYY-MM-DD.
func installBase(licenses []engine.License, today string) *licensingv1alpha1.InstallBase {
	b := &licensingv1alpha1.InstallBase{}
	for _, l := range licenses {
		b.Total++
		switch licensingv1alpha1.LicenseStatus(l.Status) {
		case licensingv1alpha1.LicenseStatusTrial:
			b.Trial++
		case licensingv1alpha1.LicenseStatusActive:
			b.Active++
		case licensingv1alpha1.LicenseStatusSuspended:
			b.Suspended++
		case licensingv1alpha1.LicenseStatusUninstalled:
			b.Uninstalled++
		}
		if (l.Status == "Trial" || l.Status == "Active") && l.Expiration != engine.Never && l.Expiration < today {
			b.Expired++
		}
		if l.IsSandbox {
			b.Sandbox++
		}
	}
	return b
}

// defaultsWrite compares an install's terms with the package defaults and returns the write that
// sets them. Sandbox installs are exempt from seat defaults.
func defaultsWrite(d licensingv1alpha1.PackageDefaults, l engine.License) (engine.Write, bool) {
	w := engine.Write{LicenseID: l.ID}
	differs := false
	if string(d.Status) != l.Status && !(l.Status == "Active" && d.Status == licensingv1alpha1.LicenseStatusTrial) {
		s := string(d.Status)
		w.Status, differs = &s, true
	}
	if !l.IsSandbox {
		var seats int64 = -1
		if d.Seats.Type == intstr.Int {
			seats = int64(d.Seats.IntValue())
		}
		if l.Seats == nil || *l.Seats != seats {
			w.Seats, differs = &seats, true
		}
	}
	if install, err := time.Parse(time.DateOnly, l.InstallDate); err == nil {
		exp := engine.Never
		switch {
		case d.Status == licensingv1alpha1.LicenseStatusTrial && d.TrialDays != nil:
			exp = install.AddDate(0, 0, int(*d.TrialDays)).Format(time.DateOnly)
		case d.Status == licensingv1alpha1.LicenseStatusActive && d.ActiveDays != nil:
			exp = install.AddDate(0, 0, int(*d.ActiveDays)).Format(time.DateOnly)
		}
		if exp != l.Expiration {
			w.Expiration, differs = &exp, true
		}
	}
	return w, differs
}

// SetupWithManager registers the controller with the manager.
func (r *ManagedPackageReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&licensingv1alpha1.ManagedPackage{}).
		WatchesRawSource(r.router.source(queuePackage)).
		Named(queuePackage).
		Complete(r)
}
