package controllers

import (
	"strings"
	"testing"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
)

// A LicenseManagementOrg whose instanceURL or loginURL is not Salesforce's gets no engine: the
// check names the field, and the cluster admin's --allowed-lmo-host lets a private gateway through.
func TestLMOHostsOutsideSalesforceAreRefused(t *testing.T) {
	cases := []struct {
		name, instance, login string
		allowed               []string
		field                 string
	}{
		{"a My Domain with the login host", "https://acme.my.salesforce.com", "https://login.salesforce.com", nil, ""},
		{"lmosim on loopback", "http://127.0.0.1:8090", "", nil, ""},
		{"a login URL on someone's server", "https://acme.my.salesforce.com", "https://collector.example", nil, "spec.loginURL"},
		{"an instance URL on someone's server", "https://collector.example", "", nil, "spec.instanceURL"},
		{"a gateway the cluster admin allowed", "https://sfgw.corp.example", "", []string{"sfgw.corp.example"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &LicenseManagementOrgReconciler{deps: &deps{opts: Options{AllowedHosts: tc.allowed}}}
			lmo := &licensingv1alpha1.LicenseManagementOrg{Spec: licensingv1alpha1.LicenseManagementOrgSpec{InstanceURL: tc.instance, LoginURL: tc.login}}
			field, err := r.checkHosts(lmo)
			if tc.field == "" {
				if err != nil {
					t.Errorf("checkHosts: %s: %v, want allowed", field, err)
				}
				return
			}
			if err == nil || field != tc.field || !strings.Contains(err.Error(), "not a Salesforce host") {
				t.Errorf("checkHosts = %q, %v; want %s refused", field, err, tc.field)
			}
		})
	}
}
