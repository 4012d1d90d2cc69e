package controllers

import (
	"context"
	"errors"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/drift"
	"github.com/lmo-operator/lmo-operator/internal/engine"
)

// waitRecheck is how often a License waiting on something outside the operator's events (a
// ManagedPackage or LMO that does not exist yet) looks again.
const waitRecheck = 30 * time.Second

// LicenseReconciler reconciles Licenses: it compares each License with the LMO record in its LMO's
// mirror, reports drift, and queues the writes that bring the record to the spec. It makes no
// Salesforce call of its own.
type LicenseReconciler struct {
	*deps
}

// +kubebuilder:rbac:groups=licensing.lmo-operator.dev,resources=licenses,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=licensing.lmo-operator.dev,resources=licenses/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=licensing.lmo-operator.dev,resources=licenses/finalizers,verbs=update

// Reconcile compares one License with its LMO record and acts on the difference.
func (r *LicenseReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, err error) {
	var lic licensingv1alpha1.License
	if err := r.Get(ctx, req.NamespacedName, &lic); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := lic.Status.DeepCopy()
	defer func() {
		if err != nil || equality.Semantic.DeepEqual(before, &lic.Status) {
			return
		}
		if uerr := r.Status().Update(ctx, &lic); uerr != nil {
			if apierrors.IsConflict(uerr) || apierrors.IsNotFound(uerr) {
				result, err = ctrl.Result{Requeue: true}, nil
				return
			}
			err = uerr
		}
	}()

	if !lic.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, &lic)
	}
	if err := r.syncFinalizer(ctx, &lic); err != nil {
		return ctrl.Result{}, err
	}
	t, res := r.resolve(ctx, &lic)
	if t == nil {
		return res, nil
	}
	return r.reconcileRecord(ctx, &lic, t), nil
}

// target is what a License resolved to: its LMO's engine, the package and the record.
type target struct {
	eng    engine.LMO
	pkg    *licensingv1alpha1.ManagedPackage
	record engine.License
}

// resolve finds the License's package, LMO and record, or sets the status that says why not.
func (r *LicenseReconciler) resolve(ctx context.Context, lic *licensingv1alpha1.License) (*target, ctrl.Result) {
	g := lic.Generation
	conds := &lic.Status.Conditions
	wait := func(reason, msg string) (*target, ctrl.Result) {
		kstatus(conds, g, false, stateReconciling, reason, msg)
		lic.Status.ObservedGeneration = g
		return nil, ctrl.Result{RequeueAfter: waitRecheck}
	}
	var pkg licensingv1alpha1.ManagedPackage
	if err := r.Get(ctx, types.NamespacedName{Namespace: lic.Namespace, Name: lic.Spec.PackageRef.Name}, &pkg); err != nil {
		return wait(licensingv1alpha1.ReasonPackageNotFound, "ManagedPackage "+lic.Spec.PackageRef.Name+" does not exist in namespace "+lic.Namespace)
	}
	eng, ok := r.registry.Get(lic.Namespace + "/" + pkg.Spec.LMORef.Name)
	if !ok {
		return wait(licensingv1alpha1.ReasonLMONotReady, "LicenseManagementOrg "+pkg.Spec.LMORef.Name+" is not running; see its conditions")
	}
	st := eng.Status()
	if !st.Loaded {
		if st.Error != "" {
			return wait(licensingv1alpha1.ReasonLMONotReady, "LicenseManagementOrg "+pkg.Spec.LMORef.Name+" cannot load the LMO's records: "+st.Error)
		}
		// The mirror is loading (usually seconds): keep whatever status the License has. Every
		// License is reconciled again when the load completes; a MirrorLoading write now would
		// double a cold start's status writes, and could be left behind by a reconcile that reads a
		// stale cached copy (status-only changes do not trigger reconciles).
		return nil, ctrl.Result{RequeueAfter: 5 * time.Second}
	}
	if _, ok := eng.Package(pkg.Spec.PackageID); !ok {
		return wait(licensingv1alpha1.ReasonNotAssociated, "Package "+pkg.Spec.PackageID+" is not associated with the LMO")
	}
	if lic.Spec.LicenseID != "" {
		rec, ok := eng.License(lic.Spec.LicenseID)
		if !ok || id15(rec.PackageID) != id15(pkg.Spec.PackageID) {
			kstatus(conds, g, false, stateStalled, licensingv1alpha1.ReasonLicenseNotFound,
				"No license record "+lic.Spec.LicenseID+" of package "+pkg.Spec.PackageID+" exists in the LMO; fix spec.licenseID")
			lic.Status.ObservedGeneration = g
			return nil, ctrl.Result{}
		}
		return &target{eng: eng, pkg: &pkg, record: rec}, ctrl.Result{}
	}
	records := eng.SubscriberLicenses(pkg.Spec.PackageID, lic.Spec.SubscriberOrgID)
	var live []engine.License
	for _, rec := range records {
		if rec.Status != string(licensingv1alpha1.LicenseStatusUninstalled) {
			live = append(live, rec)
		}
	}
	switch {
	case len(live) == 1:
		return &target{eng: eng, pkg: &pkg, record: live[0]}, ctrl.Result{}
	case len(live) > 1:
		ids := ""
		for i, rec := range live {
			if i > 0 {
				ids += ", "
			}
			ids += rec.ID
		}
		kstatus(conds, g, false, stateStalled, licensingv1alpha1.ReasonAmbiguousLicense,
			"Subscriber "+lic.Spec.SubscriberOrgID+" has "+strconv.Itoa(len(live))+" licenses of the package that are not Uninstalled ("+ids+"); pin one with spec.licenseID")
		lic.Status.ObservedGeneration = g
		return nil, ctrl.Result{}
	case len(records) > 0:
		// Only Uninstalled records: the customer left.
		return &target{eng: eng, pkg: &pkg, record: records[len(records)-1]}, ctrl.Result{}
	}
	kstatus(conds, g, false, stateSettled, licensingv1alpha1.ReasonAwaitingInstall,
		"Subscriber "+lic.Spec.SubscriberOrgID+" has not installed package "+pkg.Spec.PackageID+"; the terms are applied when it does")
	setCondition(conds, g, licensingv1alpha1.ConditionSynced, metav1.ConditionTrue, licensingv1alpha1.ReasonAwaitingInstall, "Nothing to sync until the install appears")
	lic.Status.ObservedGeneration = g
	return nil, ctrl.Result{}
}

// reconcileRecord reports the record and drift, then writes or explains why not.
func (r *LicenseReconciler) reconcileRecord(ctx context.Context, lic *licensingv1alpha1.License, t *target) ctrl.Result {
	g := lic.Generation
	conds := &lic.Status.Conditions
	rec := t.record
	lic.Status.LicenseID = rec.ID
	lic.Status.Observed = observedStatus(rec)
	desired := desiredTerms(lic.Spec)
	observed := observedTerms(rec)
	diffs := drift.Diff(desired, observed)
	lic.Status.Drift, lic.Status.DriftSummary = driftStatus(diffs, rec)
	if len(diffs) > 0 {
		setCondition(conds, g, licensingv1alpha1.ConditionDrifted, metav1.ConditionTrue, licensingv1alpha1.ReasonDrifted,
			"The LMO record differs from the spec in "+lic.Status.DriftSummary)
	} else {
		setCondition(conds, g, licensingv1alpha1.ConditionDrifted, metav1.ConditionFalse, licensingv1alpha1.ReasonNoDrift, "The LMO record matches every managed field")
	}
	lic.Status.ObservedGeneration = g

	stall := func(reason, msg string) ctrl.Result {
		kstatus(conds, g, false, stateStalled, reason, msg)
		setCondition(conds, g, licensingv1alpha1.ConditionSynced, metav1.ConditionFalse, reason, msg)
		return ctrl.Result{}
	}
	if d := drift.Terminal(observed); !d.Allowed() {
		if len(diffs) == 0 && !hasManagedFields(desired) {
			return r.settled(lic, "The customer uninstalled the package; nothing is managed")
		}
		return stall(d.Reason, d.Message)
	}
	if lic.Spec.Expiration != "" && lic.Spec.Expiration != licensingv1alpha1.Never && !drift.ValidDate(lic.Spec.Expiration) {
		return stall(licensingv1alpha1.ReasonInvalidSpec, "spec.expiration "+lic.Spec.Expiration+" is not a calendar date")
	}
	if d := drift.Params(desired.Params, paramKinds(lic.Spec), paramDefs(t.eng.FeatureParameters(t.pkg.Spec.PackageID))); !d.Allowed() {
		return stall(d.Reason, d.Message)
	}
	if lic.Spec.ManagementPolicy == licensingv1alpha1.PolicyObserve {
		setCondition(conds, g, licensingv1alpha1.ConditionSynced, metav1.ConditionTrue, licensingv1alpha1.ReasonObserving, "Observe policy: drift is reported, nothing is written")
		if len(diffs) > 0 {
			kstatus(conds, g, false, stateSettled, licensingv1alpha1.ReasonDrifted, "Observe policy: the LMO record differs from the spec in "+lic.Status.DriftSummary)
			return ctrl.Result{}
		}
		return r.settled(lic, "The LMO record matches the spec")
	}
	if lic.Annotations[licensingv1alpha1.AnnotationPaused] == "true" {
		setCondition(conds, g, licensingv1alpha1.ConditionSynced, metav1.ConditionFalse, licensingv1alpha1.ReasonPaused, "Paused by annotation "+licensingv1alpha1.AnnotationPaused+"; nothing is written")
		if len(diffs) > 0 {
			kstatus(conds, g, false, stateSettled, licensingv1alpha1.ReasonPaused, "Paused: the LMO record differs from the spec in "+lic.Status.DriftSummary)
			return ctrl.Result{}
		}
		kstatus(conds, g, true, stateSettled, licensingv1alpha1.ReasonPaused, "Paused; the LMO record matches the spec")
		return ctrl.Result{}
	}
	if len(diffs) == 0 {
		return r.settled(lic, "The LMO record matches the spec")
	}
	today := r.now().UTC()
	if d := drift.Transition(desired, observed, today); !d.Allowed() {
		return stall(d.Reason, d.Message)
	}
	held := drift.HoldAccessReduction(drift.AccessReductions(desired, observed, rec.UsedLicenses, today.Format(time.DateOnly)),
		lic.Annotations[licensingv1alpha1.AnnotationAllowAccessReduction] == "true", licensingv1alpha1.AnnotationAllowAccessReduction)
	if !held.Allowed() {
		if !isConditionReason(lic, licensingv1alpha1.ConditionReady, held.Reason) {
			r.recorder.Eventf(lic, corev1.EventTypeWarning, held.Reason, "%s", held.Message)
		}
		return stall(held.Reason, held.Message)
	}
	state, err := t.eng.Submit(writeFor(rec.ID, diffs, desired))
	switch {
	case errors.Is(err, engine.ErrWritesBlocked):
		return stall(licensingv1alpha1.ReasonLMONotReady, err.Error())
	case err != nil:
		return stall(licensingv1alpha1.ReasonInvalidSpec, err.Error())
	case state.Err != nil && state.Err.Terminal && !state.Pending:
		return stall(licensingv1alpha1.ReasonRecordRefusesEdits, "The LMO refused the write: "+state.Err.Error()+"; change the spec")
	}
	msg := "Writing " + lic.Status.DriftSummary + " to the LMO"
	if blocked := t.eng.Status().Budget.Message; blocked != "" {
		msg += "; deferred: " + blocked
	} else if state.Err != nil {
		msg += "; the last attempt failed and is retried: " + state.Err.Error()
	}
	kstatus(conds, g, false, stateReconciling, licensingv1alpha1.ReasonWriteQueued, msg)
	setCondition(conds, g, licensingv1alpha1.ConditionSynced, metav1.ConditionFalse, licensingv1alpha1.ReasonWriteQueued, msg)
	return ctrl.Result{}
}

// settled marks a License whose record matches: Ready, Synced, lastSyncTime.
func (r *LicenseReconciler) settled(lic *licensingv1alpha1.License, msg string) ctrl.Result {
	g := lic.Generation
	if !meta.IsStatusConditionTrue(lic.Status.Conditions, licensingv1alpha1.ConditionReady) || lic.Status.LastSyncTime == nil {
		now := metav1.NewTime(r.now().Truncate(time.Second))
		lic.Status.LastSyncTime = &now
	}
	kstatus(&lic.Status.Conditions, g, true, stateSettled, licensingv1alpha1.ReasonSynced, msg)
	if lic.Spec.ManagementPolicy != licensingv1alpha1.PolicyObserve {
		setCondition(&lic.Status.Conditions, g, licensingv1alpha1.ConditionSynced, metav1.ConditionTrue, licensingv1alpha1.ReasonSynced, msg)
	}
	return ctrl.Result{}
}

func isConditionReason(lic *licensingv1alpha1.License, typ, reason string) bool {
	c := meta.FindStatusCondition(lic.Status.Conditions, typ)
	return c != nil && c.Reason == reason
}

// syncFinalizer keeps the finalizer exactly while deletion must suspend the record.
func (r *LicenseReconciler) syncFinalizer(ctx context.Context, lic *licensingv1alpha1.License) error {
	want := lic.Spec.DeletionPolicy == licensingv1alpha1.DeletionPolicySuspend
	has := controllerutil.ContainsFinalizer(lic, licensingv1alpha1.FinalizerLicense)
	if want == has {
		return nil
	}
	patch := client.MergeFrom(lic.DeepCopy())
	if want {
		controllerutil.AddFinalizer(lic, licensingv1alpha1.FinalizerLicense)
	} else {
		controllerutil.RemoveFinalizer(lic, licensingv1alpha1.FinalizerLicense)
	}
	return r.Patch(ctx, lic, patch)
}

// reconcileDelete suspends the record when deletionPolicy is Suspend (guarded like any access
// reduction), then lets the License go. A paused License is never held.
func (r *LicenseReconciler) reconcileDelete(ctx context.Context, lic *licensingv1alpha1.License) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(lic, licensingv1alpha1.FinalizerLicense) {
		return ctrl.Result{}, nil
	}
	release := func() (ctrl.Result, error) {
		patch := client.MergeFrom(lic.DeepCopy())
		controllerutil.RemoveFinalizer(lic, licensingv1alpha1.FinalizerLicense)
		return ctrl.Result{}, client.IgnoreNotFound(r.Patch(ctx, lic, patch))
	}
	if lic.Annotations[licensingv1alpha1.AnnotationPaused] == "true" || lic.Spec.DeletionPolicy != licensingv1alpha1.DeletionPolicySuspend ||
		lic.Spec.ManagementPolicy == licensingv1alpha1.PolicyObserve {
		return release()
	}
	t, res := r.resolve(ctx, lic)
	if t == nil {
		if isConditionReason(lic, licensingv1alpha1.ConditionReady, licensingv1alpha1.ReasonAwaitingInstall) ||
			isConditionReason(lic, licensingv1alpha1.ConditionReady, licensingv1alpha1.ReasonLicenseNotFound) {
			return release()
		}
		return res, nil
	}
	rec := t.record
	if rec.Status == string(licensingv1alpha1.LicenseStatusSuspended) || rec.Status == string(licensingv1alpha1.LicenseStatusUninstalled) {
		return release()
	}
	g := lic.Generation
	if lic.Annotations[licensingv1alpha1.AnnotationAllowAccessReduction] != "true" {
		msg := "Deleting this License suspends license " + rec.ID + " (" + rec.Status + " to Suspended), which cuts the customer off; add the annotation " +
			licensingv1alpha1.AnnotationAllowAccessReduction + ": \"true\" to proceed, or set spec.deletionPolicy to Orphan"
		if !isConditionReason(lic, licensingv1alpha1.ConditionReady, licensingv1alpha1.ReasonAccessReductionHeld) {
			r.recorder.Eventf(lic, corev1.EventTypeWarning, licensingv1alpha1.ReasonAccessReductionHeld, "%s", msg)
		}
		kstatus(&lic.Status.Conditions, g, false, stateStalled, licensingv1alpha1.ReasonAccessReductionHeld, msg)
		return ctrl.Result{}, nil
	}
	suspended := string(licensingv1alpha1.LicenseStatusSuspended)
	if _, err := t.eng.Submit(engine.Write{LicenseID: rec.ID, Status: &suspended}); err != nil {
		kstatus(&lic.Status.Conditions, g, false, stateStalled, licensingv1alpha1.ReasonRecordRefusesEdits, err.Error())
		return ctrl.Result{}, nil
	}
	kstatus(&lic.Status.Conditions, g, false, stateReconciling, licensingv1alpha1.ReasonWriteQueued, "Suspending license "+rec.ID+" before the License is deleted")
	return ctrl.Result{}, nil
}

// SetupWithManager registers the controller with the manager.
func (r *LicenseReconciler) SetupWithManager(mgr ctrl.Manager) error {
	workers := r.opts.MaxConcurrentLicenseReconciles
	if workers == 0 {
		workers = 4
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&licensingv1alpha1.License{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{},
			predicate.AnnotationChangedPredicate{}, deletionPredicate()))).
		WatchesRawSource(r.router.source(queueLicense)).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Named(queueLicense).
		Complete(r)
}

// deletionPredicate lets through the update that marks an object for deletion.
func deletionPredicate() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectNew.GetDeletionTimestamp() != nil
	}}
}
