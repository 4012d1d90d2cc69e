package controllers

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/engine"
	"github.com/lmo-operator/lmo-operator/internal/salesforce"
)

func TestLMOStatusShowsBothAPIAllocations(t *testing.T) {
	at := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	var lmo licensingv1alpha1.LicenseManagementOrg
	setEngineStatus(&lmo, engine.Status{Connected: true, UsageKnown: true,
		Usage: salesforce.Usage{Used: 25, Max: 5000, PerAppUsed: 17, PerAppMax: 250, AppName: "lmo-operator", ObservedAt: at}})
	want := &licensingv1alpha1.PerAppAPIUsageStatus{AppName: "lmo-operator", Used: 17, Max: 250}
	if lmo.Status.APIUsage == nil || lmo.Status.APIUsage.Used != 25 || lmo.Status.APIUsage.Max != 5000 {
		t.Fatalf("apiUsage = %+v, want the org's 25/5000", lmo.Status.APIUsage)
	}
	if diff := cmp.Diff(want, lmo.Status.APIUsage.PerApp); diff != "" {
		t.Errorf("apiUsage.perApp mismatch (-want +got):\n%s", diff)
	}
}

func TestLMOStatusTellsTheConcurrentLimitFromTheDailyOne(t *testing.T) {
	var lmo licensingv1alpha1.LicenseManagementOrg
	setEngineStatus(&lmo, engine.Status{Error: "Polling the LMO for changes: REQUEST_LIMIT_EXCEEDED: ConcurrentRequests (Concurrent API Requests) Limit exceeded",
		ErrorClass: salesforce.Retryable, ConcurrentLimit: true})
	ready := meta.FindStatusCondition(lmo.Status.Conditions, licensingv1alpha1.ConditionReady)
	if ready == nil || ready.Reason != licensingv1alpha1.ReasonConcurrentRequestLimit {
		t.Errorf("Ready = %+v, want reason %s", ready, licensingv1alpha1.ReasonConcurrentRequestLimit)
	}
}

func TestLMOStatusSaysWhenAttributionIsUnavailable(t *testing.T) {
	var lmo licensingv1alpha1.LicenseManagementOrg
	setEngineStatus(&lmo, engine.Status{Connected: true, Loaded: true,
		AttributionUnavailable: "Field history tracking is off for the License object"})
	ready := meta.FindStatusCondition(lmo.Status.Conditions, licensingv1alpha1.ConditionReady)
	if ready == nil || ready.Status != "True" || !strings.Contains(ready.Message, "Field history tracking is off") {
		t.Errorf("Ready = %+v, want True and saying attribution is unavailable", ready)
	}
}
