package controllers

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

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
	data, err := client.MergeFrom(before).Data(obj)
	if err != nil {
		return ctrl.Result{}, err
	}
	var diff map[string]json.RawMessage
	if err := json.Unmarshal(data, &diff); err != nil {
		return ctrl.Result{}, err
	}
	status, ok := diff["status"]
	if !ok {
		if stored != nil {
			stored()
		}
		return res, nil
	}
	body, err := json.Marshal(map[string]any{"metadata": map[string]string{"resourceVersion": obj.GetResourceVersion()}, "status": status})
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := c.Status().Patch(ctx, obj, client.RawPatch(types.MergePatchType, body)); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return ctrl.Result{RequeueAfter: conflictRetry}, nil
		}
		return ctrl.Result{}, err
	}
	if stored != nil {
		stored()
	}
	return res, nil
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
