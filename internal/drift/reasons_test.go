package drift_test

import (
	"path/filepath"
	"testing"

	"github.com/lmo-operator/lmo-operator/internal/drift"
	"github.com/lmo-operator/lmo-operator/internal/testenv"
)

// A policy's Reason becomes the License condition's reason as it is, so every Reason constant of
// this package must be a condition reason the API declares (api/v1alpha1/conditions.go), by the
// same name and value. The constants are read from the source, so a new one is checked too.
func TestEveryReasonIsAnAPIConditionReason(t *testing.T) {
	ours, err := testenv.ReasonConstants(".")
	if err != nil {
		t.Fatal(err)
	}
	api, err := testenv.ReasonConstants(filepath.Join("..", "..", "api", "v1alpha1"))
	if err != nil {
		t.Fatal(err)
	}
	if ours["ReasonInvalidSpec"] != drift.ReasonInvalidSpec || api["ReasonInvalidSpec"] == "" {
		t.Fatalf("the parse found %v here and %d reasons in the API; it is wrong", ours, len(api))
	}
	for name, value := range ours {
		switch declared, ok := api[name]; {
		case !ok:
			t.Errorf("drift.%s (%q) is not a condition reason of api/v1alpha1; declare it there (and in docs/troubleshooting.md)", name, value)
		case declared != value:
			t.Errorf("drift.%s is %q but the API's %s is %q", name, value, name, declared)
		}
	}
}
