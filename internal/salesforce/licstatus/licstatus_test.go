package licstatus_test

import (
	"testing"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/licstatus"
)

// The License resource's status enum is the picklist's values: spec.status is written to the record
// as it is, and the record's status is compared with it.
func TestTheAPIEnumIsThePicklist(t *testing.T) {
	pairs := []struct {
		api    licensingv1alpha1.LicenseStatus
		record string
	}{
		{licensingv1alpha1.LicenseStatusTrial, licstatus.Trial},
		{licensingv1alpha1.LicenseStatusActive, licstatus.Active},
		{licensingv1alpha1.LicenseStatusSuspended, licstatus.Suspended},
		{licensingv1alpha1.LicenseStatusUninstalled, licstatus.Uninstalled},
	}
	for _, p := range pairs {
		if string(p.api) != p.record {
			t.Errorf("the API's status %q is not the picklist value %q", p.api, p.record)
		}
	}
}
