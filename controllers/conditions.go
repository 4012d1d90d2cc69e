package controllers

import (
	"context"
	"encoding/json"
	"fmt"

	jsonpatch "github.com/evanphx/json-patch/v5"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
)

// statusObject is a License, ManagedPackage or LicenseManagementOrg: a resource with status
// conditions and an observed generation.
type statusObject interface {
	client.Object
	GetConditions() []metav1.Condition
	SetConditions([]metav1.Condition)
	SetObservedGeneration(int64)
}

// setCondition sets a condition for the object's current generation; LastTransitionTime only moves
// when the status flips.
func setCondition(obj statusObject, typ string, status metav1.ConditionStatus, reason, message string) {
	conds := obj.GetConditions()
	meta.SetStatusCondition(&conds, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: message,
		ObservedGeneration: obj.GetGeneration()})
	obj.SetConditions(conds)
}

// removeCondition removes a condition type.
func removeCondition(obj statusObject, typ string) {
	conds := obj.GetConditions()
	meta.RemoveStatusCondition(&conds, typ)
	obj.SetConditions(conds)
}

// markReady, markNotReady, markReconciling and markStalled set Ready, Reconciling and Stalled
// together, as kstatus (Flux) and the Argo CD health check read them, and record that the status
// describes the object's current generation: observedGeneration is set here and nowhere else.
// Reconciling and Stalled are abnormal-true conditions: present only while True, removed otherwise
// (as Flux's own controllers do), which keeps every status write smaller.

// markReady: Ready is True; the object needs nothing.
func markReady(obj statusObject, reason, message string) {
	markKStatus(obj, metav1.ConditionTrue, "", reason, message)
}

// markNotReady: Ready is False, and nothing is in progress or stuck: the object waits for something
// that is not the operator's to do (an install, a policy, a pause).
func markNotReady(obj statusObject, reason, message string) {
	markKStatus(obj, metav1.ConditionFalse, "", reason, message)
}

// markReconciling: Ready is False while the operator works toward the spec.
func markReconciling(obj statusObject, reason, message string) {
	markKStatus(obj, metav1.ConditionFalse, licensingv1alpha1.ConditionReconciling, reason, message)
}

// markStalled: Ready is False and the operator cannot progress until someone acts.
func markStalled(obj statusObject, reason, message string) {
	markKStatus(obj, metav1.ConditionFalse, licensingv1alpha1.ConditionStalled, reason, message)
}

func markKStatus(obj statusObject, ready metav1.ConditionStatus, abnormal, reason, message string) {
	setCondition(obj, licensingv1alpha1.ConditionReady, ready, reason, message)
	for _, typ := range []string{licensingv1alpha1.ConditionReconciling, licensingv1alpha1.ConditionStalled} {
		if typ == abnormal {
			setCondition(obj, typ, metav1.ConditionTrue, reason, message)
		} else {
			removeCondition(obj, typ)
		}
	}
	obj.SetObservedGeneration(obj.GetGeneration())
}

// writeStatus writes obj's status when it differs from before's, before being the copy of obj taken
// when the reconcile read it: a merge patch of the status fields that changed, refused (409) when
// obj changed meanwhile, as an update would be. Only status is compared and sent: a finalizer the
// reconcile added is not a status change. A conflict or a deleted object asks for another reconcile
// soon; res is returned otherwise.
func writeStatus(ctx context.Context, c client.Client, obj, before client.Object, res ctrl.Result) (ctrl.Result, error) {
	return writeStatusThen(ctx, c, obj, before, res, nil)
}

// writeStatusThen is writeStatus, calling stored (when not nil) once the status is stored: what
// obj's status records as done (a notice given) is done only by the reconcile whose write won, not
// again by one that read an older copy and lost the conflict.
func writeStatusThen(ctx context.Context, c client.Client, obj, before client.Object, res ctrl.Result, stored func()) (ctrl.Result, error) {
	status, err := statusPatch(before, obj)
	if err != nil {
		return ctrl.Result{}, err
	}
	if status == nil {
		if stored != nil {
			stored()
		}
		return res, nil
	}
	body, err := json.Marshal(map[string]any{"metadata": map[string]string{"resourceVersion": obj.GetResourceVersion()}, "status": status})
	if err != nil {
		return ctrl.Result{}, err
	}
	// The answer is asked for as metadata only: the reconcile needs the new resourceVersion, not the
	// whole object decoded again (at 50,000 Licenses that decode was a tenth of the manager's CPU).
	gvk, err := apiutil.GVKForObject(obj, c.Scheme())
	if err != nil {
		return ctrl.Result{}, err
	}
	answer := &metav1.PartialObjectMetadata{}
	answer.SetGroupVersionKind(gvk)
	answer.SetNamespace(obj.GetNamespace())
	answer.SetName(obj.GetName())
	if err := c.Status().Patch(ctx, answer, client.RawPatch(types.MergePatchType, body)); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return ctrl.Result{RequeueAfter: conflictRetry}, nil
		}
		return ctrl.Result{}, err
	}
	obj.SetResourceVersion(answer.GetResourceVersion())
	if stored != nil {
		stored()
	}
	return res, nil
}

// statusPatch is the JSON merge patch from before's status to obj's; nil when they are the same.
// Only the two statuses are encoded, not the whole objects.
func statusPatch(before, obj client.Object) (json.RawMessage, error) {
	fromStatus, toStatus := statusOf(before), statusOf(obj)
	if fromStatus == nil || toStatus == nil {
		return nil, fmt.Errorf("writing the status of a %T: not a kind of the operator", obj)
	}
	from, err := json.Marshal(fromStatus)
	if err != nil {
		return nil, err
	}
	to, err := json.Marshal(toStatus)
	if err != nil {
		return nil, err
	}
	patch, err := jsonpatch.CreateMergePatch(from, to)
	if err != nil {
		return nil, err
	}
	if string(patch) == "{}" {
		return nil, nil
	}
	return patch, nil
}

// statusOf is the status of one of the operator's kinds; nil for any other object.
func statusOf(obj client.Object) any {
	switch o := obj.(type) {
	case *licensingv1alpha1.License:
		return &o.Status
	case *licensingv1alpha1.ManagedPackage:
		return &o.Status
	case *licensingv1alpha1.LicenseManagementOrg:
		return &o.Status
	}
	return nil
}

// eventQueue is an EventRecorder that keeps the Events until give sends them to the recorder.
type eventQueue struct {
	to     record.EventRecorder
	queued []func()
}

func (q *eventQueue) Event(obj runtime.Object, typ, reason, message string) {
	q.queued = append(q.queued, func() { q.to.Event(obj, typ, reason, message) })
}

func (q *eventQueue) Eventf(obj runtime.Object, typ, reason, format string, args ...any) {
	q.Event(obj, typ, reason, fmt.Sprintf(format, args...))
}

func (q *eventQueue) AnnotatedEventf(obj runtime.Object, annotations map[string]string, typ, reason, format string, args ...any) {
	message := fmt.Sprintf(format, args...)
	q.queued = append(q.queued, func() { q.to.AnnotatedEventf(obj, annotations, typ, reason, "%s", message) })
}

// give sends the queued Events, once.
func (q *eventQueue) give() {
	for _, f := range q.queued {
		f()
	}
	q.queued = nil
}
