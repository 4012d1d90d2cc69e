package controllers

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/decide"
	"github.com/lmo-operator/lmo-operator/internal/engine"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/licstatus"
)

// packageRecheck is how often a ManagedPackage recounts without an event.
const packageRecheck = 5 * time.Minute

// ManagedPackageReconciler reconciles ManagedPackages: it reports each package's install base and
// checks new installs against the package defaults, setting them under the Enforce policy.
type ManagedPackageReconciler struct {
	*deps

	mu sync.Mutex
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
	before := pkg.DeepCopy()
	return writeStatus(ctx, r.Client, &pkg, before, r.reconcile(ctx, &pkg))
}

func (r *ManagedPackageReconciler) reconcile(ctx context.Context, pkg *licensingv1alpha1.ManagedPackage) ctrl.Result {
	eng, ok := r.engines.Get(pkg.Namespace + "/" + pkg.Spec.LMORef.Name)
	if !ok {
		var lmo licensingv1alpha1.LicenseManagementOrg
		if err := r.Get(ctx, client.ObjectKey{Namespace: pkg.Namespace, Name: pkg.Spec.LMORef.Name}, &lmo); apierrors.IsNotFound(err) {
			// Waiting, not stalled: GitOps may create the LicenseManagementOrg after the package.
			markReconciling(pkg, licensingv1alpha1.ReasonLMONotFound,
				"LicenseManagementOrg "+pkg.Spec.LMORef.Name+" does not exist in namespace "+pkg.Namespace+"; create it or correct spec.lmoRef.name")
			return ctrl.Result{RequeueAfter: waitRecheck}
		}
	}
	if !ok || !eng.Status().Loaded {
		markReconciling(pkg, licensingv1alpha1.ReasonLMONotReady,
			"LicenseManagementOrg "+pkg.Spec.LMORef.Name+" is not ready; see its conditions")
		return ctrl.Result{RequeueAfter: waitRecheck}
	}
	return r.reconcileWith(ctx, pkg, eng)
}

// reconcileWith reports the package's install base and defaults from its LMO's engine.
func (r *ManagedPackageReconciler) reconcileWith(ctx context.Context, pkg *licensingv1alpha1.ManagedPackage, eng engine.LMO) ctrl.Result {
	record, ok := eng.Package(pkg.Spec.PackageID)
	if !ok {
		msg := "Package " + pkg.Spec.PackageID + " is not associated with the LMO: associate it in the Partner Console"
		setCondition(pkg, licensingv1alpha1.ConditionAssociated, metav1.ConditionFalse, licensingv1alpha1.ReasonNotAssociated, msg)
		markStalled(pkg, licensingv1alpha1.ReasonNotAssociated, msg)
		return ctrl.Result{RequeueAfter: packageRecheck}
	}
	setCondition(pkg, licensingv1alpha1.ConditionAssociated, metav1.ConditionTrue, licensingv1alpha1.ReasonAssociated, "The package record is in the LMO")
	pkg.Status.Package = &licensingv1alpha1.PackageRecordStatus{RecordID: record.RecordID, Name: record.Name, LatestVersion: record.LatestVersion}

	licenses := eng.PackageLicenses(pkg.Spec.PackageID)
	today := r.now().UTC().Format(time.DateOnly)
	pkg.Status.InstallBase = installBase(licenses, today)

	if pkg.Spec.Defaults == nil {
		setCondition(pkg, licensingv1alpha1.ConditionDefaultsMatch, metav1.ConditionTrue, licensingv1alpha1.ReasonNoDefaults, "The package declares no defaults")
		pkg.Status.Defaults = nil
		markReady(pkg, licensingv1alpha1.ReasonReady, "The package is associated with the LMO")
		return ctrl.Result{RequeueAfter: packageRecheck}
	}
	from, note := decide.DefaultsFrom(pkg)
	checked, mismatched, held, enforced := 0, []string{}, []string{}, 0
	var watermark string
	for _, l := range licenses {
		if !decide.DefaultsApply(*l, from) {
			continue
		}
		checked++
		if l.InstallDate > watermark {
			watermark = l.InstallDate
		}
		v := r.decideDefaults(ctx, pkg, eng, *l)
		switch v.Action {
		case decide.ActionUnchanged:
			continue
		case decide.ActionUpdate:
			// Count an install once: when this reconcile queued its write.
			before := eng.WriteState(l.ID)
			if state, err := eng.Submit(*v.Write); err == nil && !before.Pending && state.Pending {
				enforced++
			}
		case decide.ActionHeld, decide.ActionImpossible, decide.ActionBlocked:
			held = append(held, l.Name+" ("+v.Reason+")")
		}
		mismatched = append(mismatched, l.Name+" ("+l.SubscriberOrgID+")")
	}
	pkg.Status.Defaults = &licensingv1alpha1.DefaultsStatus{Checked: int32(checked), Mismatched: int32(len(mismatched)), Enforced: enforcedCount(pkg, enforced)}
	if watermark != "" {
		if t, err := time.Parse(time.DateOnly, watermark); err == nil {
			mt := metav1.NewTime(t)
			pkg.Status.Defaults.Watermark = &mt
		}
	}
	if len(mismatched) > 0 {
		msg := fmt.Sprintf("%d of %d installs since %s did not get the defaults", len(mismatched), checked, from.UTC().Format(time.DateOnly))
		if len(held) > 0 {
			sort.Strings(held)
			msg += fmt.Sprintf("; %d held and not written (the defaults would cut access now, are impossible, or cannot be written): %s", len(held), firstOf(held, 10))
		}
		setCondition(pkg, licensingv1alpha1.ConditionDefaultsMatch, metav1.ConditionFalse, licensingv1alpha1.ReasonDefaultsMismatch, withNote(msg, note))
		r.reportMismatch(pkg, mismatched, msg)
	} else {
		setCondition(pkg, licensingv1alpha1.ConditionDefaultsMatch, metav1.ConditionTrue, licensingv1alpha1.ReasonDefaultsMatch, withNote("Every install checked got the defaults", note))
	}
	markReady(pkg, licensingv1alpha1.ReasonReady, "The package is associated with the LMO")
	return ctrl.Result{RequeueAfter: packageRecheck}
}

// decideDefaults decides what may be written now to give an install its package's defaults. Under
// Enforce it first looks for a License that names the record: a License always wins over defaults
// (when the cache cannot tell, nothing is written).
func (d *deps) decideDefaults(ctx context.Context, pkg *licensingv1alpha1.ManagedPackage, eng engine.LMO, rec engine.License) decide.Verdict {
	from, _ := decide.DefaultsFrom(pkg)
	in := decide.DefaultsInput{Defaults: *pkg.Spec.Defaults, Policy: pkg.Spec.DefaultsPolicy, Record: rec, From: from,
		WritesBlocked: eng.Status().WritesBlocked, Today: d.now()}
	if in.Policy == licensingv1alpha1.PolicyEnforce && decide.DefaultsApply(rec, from) {
		name, err := d.licenseNamingRecord(ctx, pkg.Namespace, pkg.Spec.PackageID, rec)
		switch {
		case err != nil:
			in.ClaimedBy = "(unknown: the cache cannot be read: " + err.Error() + ")"
		default:
			in.ClaimedBy = name
		}
	}
	return decide.Defaults(in)
}

func withNote(msg, note string) string {
	if note == "" {
		return msg
	}
	return msg + "; " + note
}

// firstOf joins up to n names, and says how many more there are.
func firstOf(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:n], ", ") + fmt.Sprintf(" and %d more", len(names)-n)
}

func enforcedCount(pkg *licensingv1alpha1.ManagedPackage, now int) int32 {
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

// installBase counts a package's licenses by state. today is YYYY-MM-DD.
func installBase(licenses []*engine.License, today string) *licensingv1alpha1.InstallBase {
	b := &licensingv1alpha1.InstallBase{}
	for _, l := range licenses {
		b.Total++
		switch l.Status {
		case licstatus.Trial:
			b.Trial++
		case licstatus.Active:
			b.Active++
		case licstatus.Suspended:
			b.Suspended++
		case licstatus.Uninstalled:
			b.Uninstalled++
		}
		if (l.Status == licstatus.Trial || l.Status == licstatus.Active) && l.Expiration != engine.Never && l.Expiration < today {
			b.Expired++
		}
		if l.IsSandbox {
			b.Sandbox++
		}
	}
	return b
}

// SetupWithManager registers the controller with the manager.
func (r *ManagedPackageReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&licensingv1alpha1.ManagedPackage{}).
		WatchesRawSource(r.router.source(queuePackage)).
		Named(queuePackage).
		Complete(r)
}
