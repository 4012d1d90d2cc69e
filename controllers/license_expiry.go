package controllers

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/decide"
	"github.com/lmo-operator/lmo-operator/internal/engine"
)

// noticeExpiry gives the Event of the expiry window the record has entered (30 days, 7 days,
// lapsed), once, and returns how long until it enters the next one (0: no later window).
//
// Which notice was last given is kept in status.expiryNotice, written only with a notice: at most
// three status writes per term of a license, none on the days between, and a restarted manager
// (or another replica) reads it back instead of giving the notice again. An annotation would do
// the same but is a write to the object's metadata, which GitOps tools compare and which
// triggers a reconcile of its own; the status belongs to the controller. The License is called
// again at the next window's first moment (RequeueAfter), so no reconcile polls the calendar.
func (r *LicenseReconciler) noticeExpiry(lic *licensingv1alpha1.License, rec engine.License) time.Duration {
	now := r.now()
	e := decide.ExpiryOf(rec.Status, rec.Expiration, now)
	if decide.NoticeDue(e, rec.Expiration, lic.Status.ExpiryNotice) {
		typ, reason, msg := expiryEvent(e, rec)
		r.recorder.Eventf(lic, typ, reason, "%s", msg)
		lic.Status.ExpiryNotice = &licensingv1alpha1.ExpiryNotice{Term: e.Term, Expiration: rec.Expiration,
			Window: e.Window, GivenAt: metav1.NewTime(now.Truncate(time.Second))}
	}
	if e.Next.IsZero() {
		return 0
	}
	// A second past the boundary, so that a clock a little behind still finds the new window.
	return e.Next.Sub(now) + time.Second
}

// recordSubject names a license record in messages: its customer, when the LMO names one, then the
// record's name and subscriber org.
func recordSubject(rec engine.License) string {
	if rec.Customer != "" {
		return fmt.Sprintf("%s's license %s (subscriber %s)", rec.Customer, rec.Name, rec.SubscriberOrgID)
	}
	return fmt.Sprintf("license %s (subscriber %s)", rec.Name, rec.SubscriberOrgID)
}

// expiryEvent is the Event type, reason and message of a notice.
func expiryEvent(e decide.Expiry, rec engine.License) (typ, reason, msg string) {
	typ = corev1.EventTypeWarning
	if e.Window == decide.Window30 {
		typ = corev1.EventTypeNormal
	}
	in := fmt.Sprintf("in %d days", e.DaysLeft)
	switch e.DaysLeft {
	case 0:
		in = "today"
	case 1:
		in = "tomorrow"
	}
	subject := recordSubject(rec)
	switch {
	case e.Term == decide.ExpiryTrial && e.Window == decide.WindowLapsed:
		return typ, licensingv1alpha1.ReasonTrialLapsed, fmt.Sprintf("The trial of %s ended on %s without converting to Active", subject, rec.Expiration)
	case e.Term == decide.ExpiryTrial:
		return typ, licensingv1alpha1.ReasonTrialExpiring, fmt.Sprintf("The trial of %s ends %s, on %s", subject, in, rec.Expiration)
	case e.Window == decide.WindowLapsed:
		return typ, licensingv1alpha1.ReasonLicenseLapsed, fmt.Sprintf("The %s expired on %s without a renewal", subject, rec.Expiration)
	}
	return typ, licensingv1alpha1.ReasonRenewalDue, fmt.Sprintf("The %s expires %s, on %s: renew it by moving its expiration", subject, in, rec.Expiration)
}
