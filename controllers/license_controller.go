package controllers

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
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
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/decide"
	"github.com/lmo-operator/lmo-operator/internal/engine"
)

// waitRecheck is how often a License waiting on something outside the operator's events (a
// ManagedPackage or LMO that does not exist yet) looks again.
const waitRecheck = 30 * time.Second

// conflictRetry is how soon a reconcile whose status write lost a conflict (or found the object
// gone) runs again. The write that won usually brings a reconcile sooner; this is the safety net.
const conflictRetry = time.Second

// firstStatusHold is how long a new License's first status write waits for the write it queued to
// land, so that one status write (Ready) says what two (WriteQueued, then Ready) would. The API
// server shows kstatus an unwritten License as InProgress meanwhile (its default observedGeneration 0);
// a write that takes longer shows WriteQueued once the hold has passed.
const firstStatusHold = 10 * time.Second

// LicenseReconciler reconciles Licenses: it compares each License with the LMO record in its LMO's
// mirror, reports drift, and queues the writes that bring the record to the spec. It makes no
// Salesforce call of its own.
type LicenseReconciler struct {
	*deps
	// turn is set in the copy that serves one reconcile (forTurn).
	turn *turn
}

// +kubebuilder:rbac:groups=licensing.lmo-operator.dev,resources=licenses,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=licensing.lmo-operator.dev,resources=licenses/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=licensing.lmo-operator.dev,resources=licenses/finalizers,verbs=update

// Reconcile compares one License with its LMO record and acts on the difference.
func (r *LicenseReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, err error) {
	var lic licensingv1alpha1.License
	if err := r.Get(ctx, req.NamespacedName, &lic); err != nil {
		if apierrors.IsNotFound(err) {
			r.firstHolds.end(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := lic.DeepCopy()
	// The Events this reconcile gives wait for its status write: each says something the status
	// records as said (a notice, a hold, a first refusal), so only a reconcile whose write is
	// stored gives them. One that read a copy older than its own last write (the cache lags)
	// would say it again, and its write loses the conflict.
	t := &turn{events: eventQueue{to: r.recorder}}
	r = r.forTurn(t)
	// The engine counts this reconcile as under way until its status write is done (its writer
	// sends a burst's tail once the reconciles have stopped).
	var endReconcile func()
	defer func() {
		if endReconcile != nil {
			defer endReconcile()
		}
		if err != nil {
			return
		}
		if wait := r.firstHolds.hold(req.NamespacedName, statusWritten(before), t.queued, r.now()); wait > 0 {
			result = requeueBy(result, wait)
			return
		}
		result, err = writeStatusThen(ctx, r.Client, &lic, before, result, func() {
			t.events.give()
			r.firstHolds.end(req.NamespacedName)
		})
	}()

	if !lic.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, &lic)
	}
	if err := r.syncFinalizer(ctx, &lic); err != nil {
		return ctrl.Result{}, err
	}
	pkg, eng, res := r.engineFor(ctx, &lic)
	if eng == nil {
		return res, nil
	}
	endReconcile = eng.BeginReconcile()
	return r.reconcileWith(ctx, &lic, pkg, eng)
}

// engineFor finds the License's ManagedPackage and its LMO's engine, or sets the status that says
// what the License waits for.
func (r *LicenseReconciler) engineFor(ctx context.Context, lic *licensingv1alpha1.License) (*licensingv1alpha1.ManagedPackage, engine.LMO, ctrl.Result) {
	wait := func(reason, msg string) (*licensingv1alpha1.ManagedPackage, engine.LMO, ctrl.Result) {
		markReconciling(lic, reason, msg)
		return nil, nil, ctrl.Result{RequeueAfter: waitRecheck}
	}
	var pkg licensingv1alpha1.ManagedPackage
	if err := r.Get(ctx, types.NamespacedName{Namespace: lic.Namespace, Name: lic.Spec.PackageRef.Name}, &pkg); err != nil {
		return wait(licensingv1alpha1.ReasonPackageNotFound, "ManagedPackage "+lic.Spec.PackageRef.Name+" does not exist in namespace "+lic.Namespace)
	}
	eng, ok := r.engines.Get(lic.Namespace + "/" + pkg.Spec.LMORef.Name)
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
		return nil, nil, ctrl.Result{RequeueAfter: 5 * time.Second}
	}
	return &pkg, eng, ctrl.Result{}
}

// reconcileWith resolves the License's record in its LMO's engine, decides what may be written now
// and acts on the verdict.
func (r *LicenseReconciler) reconcileWith(ctx context.Context, lic *licensingv1alpha1.License, pkg *licensingv1alpha1.ManagedPackage, eng engine.LMO) (ctrl.Result, error) {
	res := decide.Resolve(lic.Spec, pkg.Spec.PackageID, eng)
	if res.Record == nil {
		return r.unresolved(lic, res.Verdict), nil
	}
	rec := *res.Record
	owner, err := r.ownerOf(ctx, lic, pkg, eng, rec)
	if err != nil {
		return ctrl.Result{}, err
	}
	result := r.apply(lic, eng, rec, decide.License(r.licenseInput(lic, pkg, eng, rec, owner)))
	if owner != "" {
		return result, nil // the owning License gives the record's notices
	}
	return requeueBy(result, r.noticeExpiry(lic, rec)), nil
}

// requeueBy returns res asking to be called again within after as well (0: no such need).
func requeueBy(res ctrl.Result, after time.Duration) ctrl.Result {
	if after > 0 && (res.RequeueAfter == 0 || after < res.RequeueAfter) {
		res.RequeueAfter = after
	}
	return res
}

// licenseInput gathers what decide.License needs about a License and its record.
func (d *deps) licenseInput(lic *licensingv1alpha1.License, pkg *licensingv1alpha1.ManagedPackage, eng engine.LMO, rec engine.License, owner string) decide.Input {
	return decide.Input{License: lic, Record: rec, Params: decide.ParamDefs(eng.FeatureParameters(pkg.Spec.PackageID)),
		Owner: owner, WritesBlocked: eng.Status().WritesBlocked, Today: d.now()}
}

// ownerOf returns the name of the License that owns rec when it is not lic, or "".
func (d *deps) ownerOf(ctx context.Context, lic *licensingv1alpha1.License, pkg *licensingv1alpha1.ManagedPackage, eng engine.LMO, rec engine.License) (string, error) {
	others, err := d.claimants(ctx, types.NamespacedName{Namespace: lic.Namespace, Name: pkg.Spec.LMORef.Name}, eng, rec, lic.Name)
	if err != nil {
		return "", err
	}
	claims := []decide.Claim{{Name: lic.Name, Created: lic.CreationTimestamp.Time}}
	for _, c := range others {
		claims = append(claims, decide.Claim{Name: c.license.Name, Created: c.license.CreationTimestamp.Time})
	}
	if owner := decide.Owner(claims); owner != lic.Name {
		return owner, nil
	}
	return "", nil
}

// unresolved sets the status of a License that names no record: why, and what it waits for.
func (r *LicenseReconciler) unresolved(lic *licensingv1alpha1.License, v decide.Verdict) ctrl.Result {
	switch v.Reason {
	case licensingv1alpha1.ReasonNotAssociated:
		markReconciling(lic, v.Reason, v.Message)
		return ctrl.Result{RequeueAfter: waitRecheck}
	case licensingv1alpha1.ReasonAwaitingInstall:
		markNotReady(lic, v.Reason, v.Message)
		setCondition(lic, licensingv1alpha1.ConditionSynced, metav1.ConditionTrue, v.Reason, "Nothing to sync until the install appears")
		return ctrl.Result{}
	}
	markStalled(lic, v.Reason, v.Message)
	return ctrl.Result{}
}

// hold shows a held change in status and, the first time this change is held, in an Event: a
// reviewer learns what approving it means and the value that approves it.
func (r *LicenseReconciler) hold(lic *licensingv1alpha1.License, v decide.Verdict) {
	known := lic.Status.HeldChange != nil && lic.Status.HeldChange.Approval == v.Approval &&
		isConditionReason(lic, licensingv1alpha1.ConditionReady, v.Reason)
	lic.Status.HeldChange = &licensingv1alpha1.HeldChange{Reductions: v.Reductions, Approval: v.Approval}
	if !known {
		r.recorder.Eventf(lic, corev1.EventTypeWarning, v.Reason, "%s", v.Message)
	}
}

// apply reports the record and its drift, then writes or shows why not, as the verdict says.
func (r *LicenseReconciler) apply(lic *licensingv1alpha1.License, eng engine.LMO, rec engine.License, v decide.Verdict) ctrl.Result {
	r.noteCorrection(lic, eng.WriteState(rec.ID))
	lic.Status.LicenseID = rec.ID
	lic.Status.Observed = observedStatus(rec)
	lic.Status.Drift, lic.Status.DriftSummary = driftStatus(v.Drift, rec)
	lic.Status.HeldChange = nil
	if len(v.Drift) > 0 {
		setCondition(lic, licensingv1alpha1.ConditionDrifted, metav1.ConditionTrue, licensingv1alpha1.ReasonDrifted,
			"The LMO record differs from the spec in "+lic.Status.DriftSummary)
	} else {
		setCondition(lic, licensingv1alpha1.ConditionDrifted, metav1.ConditionFalse, licensingv1alpha1.ReasonNoDrift, "The LMO record matches every managed field")
	}

	stall := func(reason, msg string) ctrl.Result {
		markStalled(lic, reason, msg)
		setCondition(lic, licensingv1alpha1.ConditionSynced, metav1.ConditionFalse, reason, msg)
		return ctrl.Result{}
	}
	const observing = "Observe policy: drift is reported, nothing is written"
	pausedMsg := "Paused by annotation " + licensingv1alpha1.AnnotationPaused + "; nothing is written"
	switch v.Action {
	case decide.ActionUnchanged:
		if lic.Spec.ManagementPolicy == licensingv1alpha1.PolicyObserve && v.Reason != licensingv1alpha1.ReasonPaused {
			setCondition(lic, licensingv1alpha1.ConditionSynced, metav1.ConditionTrue, licensingv1alpha1.ReasonObserving, observing)
		}
		if v.Reason == licensingv1alpha1.ReasonPaused {
			setCondition(lic, licensingv1alpha1.ConditionSynced, metav1.ConditionFalse, licensingv1alpha1.ReasonPaused, pausedMsg)
			markReady(lic, licensingv1alpha1.ReasonPaused, v.Message)
			return ctrl.Result{}
		}
		if v.Reason == licensingv1alpha1.ReasonRecordTypeMismatch {
			// Every managed field matches, so the License is Ready; but the LMA page shows another
			// status than the one written, and Synced says so rather than that all is well.
			if !isConditionReason(lic, licensingv1alpha1.ConditionSynced, v.Reason) {
				r.recorder.Eventf(lic, corev1.EventTypeWarning, v.Reason, "%s", v.Message)
			}
			r.settled(lic, v.Message)
			setCondition(lic, licensingv1alpha1.ConditionSynced, metav1.ConditionFalse, v.Reason, v.Message)
			return ctrl.Result{}
		}
		return r.settled(lic, v.Message)
	case decide.ActionObserve:
		setCondition(lic, licensingv1alpha1.ConditionSynced, metav1.ConditionTrue, licensingv1alpha1.ReasonObserving, observing)
		markNotReady(lic, v.Reason, v.Message)
		return ctrl.Result{}
	case decide.ActionPaused:
		setCondition(lic, licensingv1alpha1.ConditionSynced, metav1.ConditionFalse, licensingv1alpha1.ReasonPaused, pausedMsg)
		markNotReady(lic, v.Reason, v.Message)
		return ctrl.Result{}
	case decide.ActionHeld:
		r.hold(lic, v)
		return stall(v.Reason, v.Message)
	case decide.ActionUpdate:
	default:
		if (v.Reason == licensingv1alpha1.ReasonNotEditable || v.Reason == licensingv1alpha1.ReasonSubscriberOrgDeleted) &&
			!isConditionReason(lic, licensingv1alpha1.ConditionReady, v.Reason) {
			r.recorder.Eventf(lic, corev1.EventTypeWarning, v.Reason, "%s", v.Message)
		}
		return stall(v.Reason, v.Message)
	}
	state, err := eng.Submit(*v.Write)
	switch {
	case errors.Is(err, engine.ErrWritesBlocked):
		return stall(licensingv1alpha1.ReasonLMONotReady, err.Error())
	case err != nil:
		return stall(licensingv1alpha1.ReasonInvalidSpec, err.Error())
	case state.Err != nil && state.Err.Terminal && !state.Pending:
		return stall(licensingv1alpha1.ReasonRecordRefusesEdits, "The LMO refused the write: "+state.Err.Error()+"; change the spec")
	}
	msg := v.Message
	if blocked := eng.Status().Budget.Message; blocked != "" {
		msg += "; deferred: " + blocked
	} else if state.Err != nil {
		msg += "; the last attempt failed and is retried: " + state.Err.Error()
	}
	if msg == v.Message && r.turn != nil {
		r.turn.queued = true // nothing to say but that the write is queued
	}
	markReconciling(lic, licensingv1alpha1.ReasonWriteQueued, msg)
	setCondition(lic, licensingv1alpha1.ConditionSynced, metav1.ConditionFalse, licensingv1alpha1.ReasonWriteQueued, msg)
	return ctrl.Result{}
}

// noteCorrection records in status.lastCorrection the engine's last write for the License when
// it put back a person's edit and is newer than the correction recorded. It runs before the
// reconcile moves lastSyncTime, the moment the person's edit is compared with. The engine forgets
// its writes on a restart; the status keeps the last correction.
func (r *LicenseReconciler) noteCorrection(lic *licensingv1alpha1.License, ws engine.WriteState) {
	if ws.LastWritten.IsZero() {
		return
	}
	at := ws.LastWritten.Truncate(time.Second)
	if last := lic.Status.LastCorrection; last != nil && !at.After(last.CorrectedAt.Time) {
		return
	}
	if fixed := decide.Corrections(ws.LastChanges, lastSync(lic)); len(fixed) > 0 {
		lic.Status.LastCorrection = correctionStatus(fixed, ws.LastWritten)
	}
}

// settled marks a License whose record matches: Ready, Synced, lastSyncTime.
func (r *LicenseReconciler) settled(lic *licensingv1alpha1.License, msg string) ctrl.Result {
	if !meta.IsStatusConditionTrue(lic.Status.Conditions, licensingv1alpha1.ConditionReady) || lic.Status.LastSyncTime == nil {
		now := metav1.NewTime(r.now().Truncate(time.Second))
		lic.Status.LastSyncTime = &now
	}
	markReady(lic, licensingv1alpha1.ReasonSynced, msg)
	if lic.Spec.ManagementPolicy != licensingv1alpha1.PolicyObserve {
		setCondition(lic, licensingv1alpha1.ConditionSynced, metav1.ConditionTrue, licensingv1alpha1.ReasonSynced, msg)
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
// reduction, and only by the License that owns the record), then lets the License go. A paused
// License is never held.
func (r *LicenseReconciler) reconcileDelete(ctx context.Context, lic *licensingv1alpha1.License) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(lic, licensingv1alpha1.FinalizerLicense) {
		return ctrl.Result{}, nil
	}
	release := func() (ctrl.Result, error) {
		patch := client.MergeFrom(lic.DeepCopy())
		controllerutil.RemoveFinalizer(lic, licensingv1alpha1.FinalizerLicense)
		return ctrl.Result{}, client.IgnoreNotFound(r.Patch(ctx, lic, patch))
	}
	if !decide.SuspendsOnDelete(lic) {
		return release()
	}
	pkg, eng, res := r.engineFor(ctx, lic)
	if eng == nil {
		return res, nil
	}
	resolved := decide.Resolve(lic.Spec, pkg.Spec.PackageID, eng)
	if resolved.Record == nil {
		switch resolved.Verdict.Reason {
		case licensingv1alpha1.ReasonAwaitingInstall, licensingv1alpha1.ReasonLicenseNotFound:
			return release()
		}
		return r.unresolved(lic, resolved.Verdict), nil
	}
	rec := *resolved.Record
	owner, err := r.ownerOf(ctx, lic, pkg, eng, rec)
	if err != nil {
		return ctrl.Result{}, err
	}
	v := decide.License(r.licenseInput(lic, pkg, eng, rec, owner))
	lic.Status.HeldChange = nil
	switch v.Action {
	case decide.ActionRelease:
		return release()
	case decide.ActionHeld:
		r.hold(lic, v)
		markStalled(lic, v.Reason, v.Message)
		return ctrl.Result{}, nil
	case decide.ActionUpdate:
	default:
		markStalled(lic, v.Reason, v.Message)
		return ctrl.Result{}, nil
	}
	if _, err := eng.Submit(*v.Write); err != nil {
		markStalled(lic, licensingv1alpha1.ReasonRecordRefusesEdits, err.Error())
		return ctrl.Result{}, nil
	}
	markReconciling(lic, licensingv1alpha1.ReasonWriteQueued, v.Message)
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
		// When a License goes, the others that name the same record look again: one may own it now.
		Watches(&licensingv1alpha1.License{}, handler.EnqueueRequestsFromMapFunc(r.sameRecord),
			builder.WithPredicates(predicate.Funcs{
				CreateFunc:  func(event.CreateEvent) bool { return false },
				UpdateFunc:  func(event.UpdateEvent) bool { return false },
				GenericFunc: func(event.GenericEvent) bool { return false },
			})).
		WatchesRawSource(r.router.source(queueLicense)).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Named(queueLicense).
		Complete(r)
}

// sameRecord maps a License to the other Licenses in its namespace that name the same record or
// subscriber.
func (r *LicenseReconciler) sameRecord(ctx context.Context, o client.Object) []reconcile.Request {
	seen := map[string]bool{o.GetName(): true}
	var out []reconcile.Request
	for _, key := range licenseRecordKeys(o) {
		items, err := licensesWithKey(ctx, r, o.GetNamespace(), key, true)
		if err != nil {
			continue
		}
		for _, l := range items {
			if !seen[l.Name] {
				seen[l.Name] = true
				out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&l)})
			}
		}
	}
	return out
}

// deletionPredicate lets through the update that marks an object for deletion.
func deletionPredicate() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectNew.GetDeletionTimestamp() != nil
	}}
}
