package controllers

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/engine"
)

func setSecretProblem(lmo *licensingv1alpha1.LicenseManagementOrg, reason, message string) {
	setCondition(lmo, licensingv1alpha1.ConditionAuthenticated, metav1.ConditionFalse, reason, message)
	markStalled(lmo, reason, message)
}

// setEngineStatus writes what the engine knows into the LicenseManagementOrg's status.
func setEngineStatus(lmo *licensingv1alpha1.LicenseManagementOrg, st engine.Status) {
	switch {
	case st.Connected:
		setCondition(lmo, licensingv1alpha1.ConditionAuthenticated, metav1.ConditionTrue, licensingv1alpha1.ReasonAuthenticated, "The operator holds a session for the LMO")
	case st.Error != "" && st.ErrorClass == engine.ErrorAuth:
		setCondition(lmo, licensingv1alpha1.ConditionAuthenticated, metav1.ConditionFalse, licensingv1alpha1.ReasonAuthenticationFailed, st.Error)
	case st.Error != "" && st.ErrorClass == engine.ErrorRetryable:
		setCondition(lmo, licensingv1alpha1.ConditionAuthenticated, metav1.ConditionUnknown, licensingv1alpha1.ReasonUnreachable, st.Error)
	case st.Error != "":
		setCondition(lmo, licensingv1alpha1.ConditionAuthenticated, metav1.ConditionUnknown, licensingv1alpha1.ReasonInvalidResponse, st.Error)
	default:
		setCondition(lmo, licensingv1alpha1.ConditionAuthenticated, metav1.ConditionUnknown, licensingv1alpha1.ReasonReconciling, "Connecting to the LMO")
	}
	installed := func(typ string, v *bool, app string) {
		switch {
		case v == nil:
			setCondition(lmo, typ, metav1.ConditionUnknown, licensingv1alpha1.ReasonReconciling, "Not checked yet")
		case *v:
			setCondition(lmo, typ, metav1.ConditionTrue, licensingv1alpha1.ReasonInstalled, "The "+app+" is installed")
		default:
			setCondition(lmo, typ, metav1.ConditionFalse, licensingv1alpha1.ReasonNotInstalled, "The "+app+" is not installed in the org; install it from the AppExchange")
		}
	}
	installed(licensingv1alpha1.ConditionLMAInstalled, st.LMAInstalled, "License Management App")
	installed(licensingv1alpha1.ConditionFMAInstalled, st.FMAInstalled, "Feature Management App")
	if st.Org != nil {
		lmo.Status.Organization = &licensingv1alpha1.OrganizationStatus{ID: st.Org.ID, Name: st.Org.Name, Edition: st.Org.Edition, IsSandbox: st.Org.IsSandbox}
		if !st.Org.TrialExpiration.IsZero() {
			t := metav1.NewTime(st.Org.TrialExpiration)
			lmo.Status.Organization.TrialExpiration = &t
		}
		switch {
		case st.Org.Production():
			setCondition(lmo, licensingv1alpha1.ConditionProductionOrg, metav1.ConditionTrue, licensingv1alpha1.ReasonProduction, "The LMO is a production org")
		case st.WritesBlocked == "":
			setCondition(lmo, licensingv1alpha1.ConditionProductionOrg, metav1.ConditionFalse, licensingv1alpha1.ReasonNonProductionAllowed,
				"The LMO is not a production org; spec.allowNonProductionOrg lets the operator write to it anyway")
		default:
			setCondition(lmo, licensingv1alpha1.ConditionProductionOrg, metav1.ConditionFalse, licensingv1alpha1.ReasonNonProductionOrg, st.WritesBlocked)
		}
	}
	if st.UsageKnown {
		lmo.Status.APIUsage = &licensingv1alpha1.APIUsageStatus{Used: int64(st.Usage.Used), Max: int64(st.Usage.Max), ObservedAt: metav1.NewTime(st.Usage.ObservedAt.Truncate(time.Second))}
		if st.Usage.PerAppMax > 0 {
			lmo.Status.APIUsage.PerApp = &licensingv1alpha1.PerAppAPIUsageStatus{AppName: st.Usage.AppName,
				Used: int64(st.Usage.PerAppUsed), Max: int64(st.Usage.PerAppMax)}
		}
	}
	if st.Loaded {
		m := &licensingv1alpha1.MirrorStatus{Licenses: int32(st.Licenses)}
		if !st.LastFullSync.IsZero() {
			t := metav1.NewTime(st.LastFullSync.Truncate(time.Second))
			m.LastFullSync = &t
		}
		if !st.LastIncrementalSync.IsZero() {
			t := metav1.NewTime(st.LastIncrementalSync.Truncate(time.Second))
			m.LastIncrementalSync = &t
		}
		lmo.Status.Mirror = m
	}

	// Ready, Reconciling and Stalled: the first problem that applies wins.
	switch {
	case st.Error != "" && st.ErrorClass == engine.ErrorAuth:
		markStalled(lmo, licensingv1alpha1.ReasonAuthenticationFailed, st.Error+"; check the connected app and the Secret")
	case st.LMAInstalled != nil && !*st.LMAInstalled:
		markStalled(lmo, licensingv1alpha1.ReasonNotInstalled, "The License Management App is not installed in the org; this is not an LMO")
	case st.WritesBlocked != "":
		markStalled(lmo, licensingv1alpha1.ReasonNonProductionOrg, st.WritesBlocked)
	case st.Budget.Message != "" && (st.Budget.Low || !st.Budget.LimitExceededUntil.IsZero() && st.Error != ""):
		reason := licensingv1alpha1.ReasonAPIBudgetLow
		if !st.Budget.Low {
			reason = licensingv1alpha1.ReasonAPILimitExceeded
		}
		markReconciling(lmo, reason, st.Budget.Message)
	case st.Error != "" && st.ConcurrentLimit:
		markReconciling(lmo, licensingv1alpha1.ReasonConcurrentRequestLimit,
			st.Error+"; too many long-running requests run in the org at once, retrying in seconds")
	case st.Error != "" && st.ErrorClass == engine.ErrorRetryable:
		markReconciling(lmo, licensingv1alpha1.ReasonUnreachable, st.Error)
	case st.Error != "":
		markReconciling(lmo, licensingv1alpha1.ReasonInvalidResponse, st.Error)
	case !st.Loaded:
		markReconciling(lmo, licensingv1alpha1.ReasonMirrorLoading, "Reading the LMO's license records")
	case st.AttributionUnavailable != "":
		markReady(lmo, licensingv1alpha1.ReasonReady, "Connected; the mirror holds the LMO's license records. "+st.AttributionUnavailable)
	default:
		markReady(lmo, licensingv1alpha1.ReasonReady, "Connected; the mirror holds the LMO's license records")
	}
}

// checkPrivateKey makes sure a JWT bearer key is a PEM RSA private key, without ever echoing it.
func checkPrivateKey(data []byte) error {
	block, _ := pem.Decode(data)
	if block == nil {
		return errors.New("is not PEM")
	}
	if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return nil
	}
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		return nil
	}
	return errors.New("is not an RSA private key in PKCS#1 or PKCS#8 PEM")
}
