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

// kstatusConditions returns Ready, Reconciling and Stalled as the mark* setters in
// controllers/conditions.go set them: Ready always, with the message, and
// Reconciling or Stalled only while True (the state names which), with the same reason and message.
func kstatusConditions(ready bool, state, reason, message string) []condition {
	readyStatus := "False"
	if ready {
		readyStatus = "True"
	}
	out := []condition{{"Ready", readyStatus, reason, message}}
	switch state {
	case "Reconciling", "Stalled":
		out = append(out, condition{state, "True", reason, message})
	}
	return out
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
			"observedGeneration": observedGeneration,
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
// Kustomization wait and healthChecks rely on. The conditions are those license_controller.go sets.
//
// Flux's kstatus (github.com/fluxcd/cli-utils) decides in this order: Reconciling=True is InProgress,
// Stalled=True is Failed, and otherwise, for a kind it has no rules for, Ready decides: True is Current,
// False or Unknown is InProgress. So a License that the operator leaves at Ready=False on purpose
// (AwaitingInstall, drift under Observe, drift while paused) is InProgress to Flux, not Current, even
// though neither Reconciling nor Stalled is present. docs/gitops.md explains what that means for wait.
func TestKstatusReadsLicenseConditions(t *testing.T) {
	synced := "The LMO record matches the spec"
	noDrift := condition{"Drifted", "False", "NoDrift", "The LMO record matches every managed field"}
	tests := []struct {
		name string
		obj  *unstructured.Unstructured
		want status.Status
	}{
		{
			name: "a synced License is Current",
			obj: license(3, append(append([]condition{noDrift}, kstatusConditions(true, "", "Synced", synced)...),
				condition{"Synced", "True", "Synced", synced})...),
			want: status.CurrentStatus,
		},
		{
			name: "a License the operator is writing is InProgress",
			obj: license(3, append([]condition{{"Drifted", "True", "Drifted", "The LMO record differs from the spec in seats"}},
				append(kstatusConditions(false, "Reconciling", "WriteQueued", "Writing seats to the LMO"),
					condition{"Synced", "False", "WriteQueued", "Writing seats to the LMO"})...)...),
			want: status.InProgressStatus,
		},
		{
			name: "a License whose latest spec the operator has not observed is InProgress even when Ready",
			obj:  license(2, kstatusConditions(true, "", "Synced", synced)...),
			want: status.InProgressStatus,
		},
		{
			name: "a License for an uninstalled package is Failed",
			obj: license(3, kstatusConditions(false, "Stalled", "Uninstalled",
				"The customer uninstalled the package; the license record is never written again. Delete this License or pin another record with licenseID")...),
			want: status.FailedStatus,
		},
		{
			name: "a License whose access reduction is held is Failed until a person approves it",
			obj: license(3, kstatusConditions(false, "Stalled", "AccessReductionHeld",
				`The change would cut the customer's access now (status Active to Suspended); to apply this change, add the annotation licensing.lmo-operator.dev/allow-access-reduction: "526370644f"`)...),
			want: status.FailedStatus,
		},
		{
			// Not Current: Ready=False decides once neither Reconciling nor Stalled is present. See the comment above.
			name: "a License awaiting the customer's install is InProgress to Flux, not Current, because Ready is False",
			obj: license(3, append(kstatusConditions(false, "", "AwaitingInstall",
				"Subscriber 00D5g000004XyZ1 has not installed package 033000000000001AAA; the terms are applied when it does"),
				condition{"Synced", "True", "AwaitingInstall", "Nothing to sync until the install appears"})...),
			want: status.InProgressStatus,
		},
		{
			name: "a License drifted under the Observe policy is InProgress to Flux, because Ready is False",
			obj: license(3, append([]condition{
				{"Drifted", "True", "Drifted", "The LMO record differs from the spec in seats"},
				{"Synced", "True", "Observing", "Observe policy: drift is reported, nothing is written"},
			}, kstatusConditions(false, "", "Drifted", "Observe policy: the LMO record differs from the spec in seats")...)...),
			want: status.InProgressStatus,
		},
		{
			name: "a paused License without drift is Current",
			obj: license(3, append([]condition{noDrift,
				{"Synced", "False", "Paused", "Paused by annotation licensing.lmo-operator.dev/paused; nothing is written"},
			}, kstatusConditions(true, "", "Paused", "Paused; the LMO record matches the spec")...)...),
			want: status.CurrentStatus,
		},
		{
			name: "a paused License with drift is InProgress to Flux, because Ready is False",
			obj: license(3, append([]condition{
				{"Drifted", "True", "Drifted", "The LMO record differs from the spec in seats"},
				{"Synced", "False", "Paused", "Paused by annotation licensing.lmo-operator.dev/paused; nothing is written"},
			}, kstatusConditions(false, "", "Paused", "Paused: the LMO record differs from the spec in seats")...)...),
			want: status.InProgressStatus,
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

// TestArgoCDAgreesWithKstatus checks, over the Argo CD cases, how each Argo CD status lines up with what
// Flux's kstatus computes for the same object: Healthy is Current, Degraded is Failed (both mean Stalled),
// Progressing is InProgress. Suspended (Ready=False with neither Reconciling nor Stalled) is InProgress to
// Flux: kstatus falls back to Ready there, and has no status for "waiting on purpose".
func TestArgoCDAgreesWithKstatus(t *testing.T) {
	script := readFile(t, filepath.Join(argoDir, "health.lua"))
	want := map[string]status.Status{
		"Healthy":     status.CurrentStatus,
		"Degraded":    status.FailedStatus,
		"Progressing": status.InProgressStatus,
		"Suspended":   status.InProgressStatus,
	}
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
		w, ok := want[argo.Status]
		if !ok {
			t.Errorf("%s: Argo CD shows %s, which the controllers' conditions should never produce", tc.InputPath, argo.Status)
			continue
		}
		if flux.Status != w {
			t.Errorf("%s: Argo CD shows %s but kstatus says %s (%s), want %s", tc.InputPath, argo.Status, flux.Status, flux.Message, w)
		}
		if flux.Status == status.FailedStatus && argo.Status != "Degraded" {
			t.Errorf("%s: kstatus says Failed but Argo CD shows %s", tc.InputPath, argo.Status)
		}
	}
}
