package gitops

import (
	"path/filepath"
	"testing"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// condition is one entry of status.conditions, written the way the controllers write it.
type condition struct {
	kind, status, reason, message string
}

// license returns a License as Flux's health checks see it: unstructured, generation 3, with the given
// observedGeneration and conditions.
func license(observedGeneration int64, conditions ...condition) *unstructured.Unstructured {
	list := make([]any, 0, len(conditions))
	for _, c := range conditions {
		list = append(list, map[string]any{
			"type":               c.kind,
			"status":             c.status,
			"reason":             c.reason,
			"message":            c.message,
			"lastTransitionTime": "2026-05-01T10:00:00Z",
		})
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "licensing.lmo-operator.dev/v1alpha1",
		"kind":       "License",
		"metadata":   map[string]any{"name": "acme", "namespace": "licensing", "generation": int64(3)},
		"spec": map[string]any{
			"packageRef":      map[string]any{"name": "my-app"},
			"subscriberOrgID": "00D5g000004XyZ1",
			"seats":           int64(250),
		},
		"status": map[string]any{
			"observedGeneration": observedGeneration,
			"conditions":         list,
		},
	}}
}

// TestKstatusReadsLicenseConditions proves the License conditions are kstatus-compatible, which is what Flux's
// Kustomization wait and healthChecks rely on.
func TestKstatusReadsLicenseConditions(t *testing.T) {
	tests := []struct {
		name string
		obj  *unstructured.Unstructured
		want status.Status
	}{
		{
			name: "a synced License is Current",
			obj: license(3,
				condition{"Ready", "True", "Synced", "The LMO record matches the spec"},
				condition{"Reconciling", "False", "Synced", "The LMO record matches the spec"},
				condition{"Stalled", "False", "Synced", "The LMO record matches the spec"},
				condition{"Drifted", "False", "NoDrift", "The LMO record matches every managed field"},
				condition{"Synced", "True", "Synced", "The last read and write of the LMO record succeeded"},
			),
			want: status.CurrentStatus,
		},
		{
			name: "a License the operator is writing is InProgress",
			obj: license(3,
				condition{"Ready", "False", "WriteQueued", "Seats are queued for the next write to the LMO"},
				condition{"Reconciling", "True", "WriteQueued", "Seats are queued for the next write to the LMO"},
				condition{"Stalled", "False", "WriteQueued", "Seats are queued for the next write to the LMO"},
			),
			want: status.InProgressStatus,
		},
		{
			name: "a License whose latest spec the operator has not observed is InProgress even when Ready",
			obj: license(2,
				condition{"Ready", "True", "Synced", "The LMO record matches the spec"},
				condition{"Reconciling", "False", "Synced", "The LMO record matches the spec"},
				condition{"Stalled", "False", "Synced", "The LMO record matches the spec"},
			),
			want: status.InProgressStatus,
		},
		{
			name: "a License for an uninstalled package is Failed",
			obj: license(3,
				condition{"Ready", "False", "Uninstalled", "The customer uninstalled the package; delete this License or pin a new licenseID"},
				condition{"Reconciling", "False", "Uninstalled", "The customer uninstalled the package"},
				condition{"Stalled", "True", "Uninstalled", "The customer uninstalled the package; delete this License or pin a new licenseID"},
			),
			want: status.FailedStatus,
		},
		{
			name: "a License whose access reduction is held is Failed until a person approves it",
			obj: license(3,
				condition{"Ready", "False", "AccessReductionHeld", "Suspending an Active license cuts the customer's access now"},
				condition{"Reconciling", "False", "AccessReductionHeld", "The change is held"},
				condition{"Stalled", "True", "AccessReductionHeld", "Suspending an Active license cuts the customer's access now"},
			),
			want: status.FailedStatus,
		},
		{
			name: "a License awaiting the customer's install is InProgress",
			obj: license(3,
				condition{"Ready", "False", "AwaitingInstall", "No license record exists for subscriber 00D5g000004XyZ1 yet"},
				condition{"Reconciling", "False", "AwaitingInstall", "Waiting for the customer to install the package"},
				condition{"Stalled", "False", "AwaitingInstall", "Waiting for the customer to install the package"},
			),
			want: status.InProgressStatus,
		},
		{
			name: "a paused License without drift is Current",
			obj: license(3,
				condition{"Ready", "True", "Synced", "The LMO record matches the spec"},
				condition{"Reconciling", "False", "Paused", "The License is paused"},
				condition{"Stalled", "False", "Paused", "The License is paused"},
				condition{"Synced", "False", "Paused", "The License carries the paused annotation; nothing is written"},
			),
			want: status.CurrentStatus,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := status.Compute(tt.obj)
			if err != nil {
				t.Fatalf("status.Compute: %v", err)
			}
			if got.Status != tt.want {
				t.Errorf("status.Compute = %s (%s), want %s", got.Status, got.Message, tt.want)
			}
		})
	}
}

// TestArgoCDAgreesWithKstatus checks, over the Argo CD cases, that what Argo CD shows as Healthy Flux
// sees as Current, and that a Stalled object is Failed in Flux and Degraded in Argo CD.
func TestArgoCDAgreesWithKstatus(t *testing.T) {
	script := readFile(t, filepath.Join(argoDir, "health.lua"))
	for _, tc := range loadHealthTests(t) {
		obj := readObject(t, filepath.Join(argoDir, tc.InputPath))
		argo, err := runHealthScript(obj, script)
		if err != nil {
			t.Fatalf("%s: running health.lua: %v", tc.InputPath, err)
		}
		flux, err := status.Compute(obj)
		if err != nil {
			t.Fatalf("%s: status.Compute: %v", tc.InputPath, err)
		}
		if argo.Status == "Healthy" && flux.Status != status.CurrentStatus {
			t.Errorf("%s: Argo CD shows Healthy but kstatus says %s (%s)", tc.InputPath, flux.Status, flux.Message)
		}
		if flux.Status == status.FailedStatus && argo.Status != "Degraded" {
			t.Errorf("%s: kstatus says Failed but Argo CD shows %s", tc.InputPath, argo.Status)
		}
	}
}
