package controllers

import (
	"strings"
	"testing"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
)

// A LicenseManagementOrg whose instanceURL or loginURL is not Salesforce's gets no engine: the
// check names the field, and the cluster admin's --allowed-lmo-host lets a private gateway through.
// Plain http (lmosim in development) needs the manager's --allow-insecure-loopback-http.
func TestLMOHostsOutsideSalesforceAreRefused(t *testing.T) {
	cases := []struct {
		name, instance, login string
		allowed               []string
		plainHTTP             bool
		field                 string
		message               string
	}{
		{"a My Domain with the login host", "https://acme.my.salesforce.com", "https://login.salesforce.com", nil, false, "", ""},
		{"lmosim on loopback over https", "https://127.0.0.1:8090", "", nil, false, "", ""},
		{"lmosim on loopback over plain http with the manager's flag", "http://127.0.0.1:8090", "", nil, true, "", ""},
		{"lmosim on loopback over plain http without the flag", "http://127.0.0.1:8090", "", nil, false, "spec.instanceURL", "--allow-insecure-loopback-http"},
		{"a plain http login URL on loopback without the flag", "https://acme.my.salesforce.com", "http://localhost:8090", nil, false, "spec.loginURL", "--allow-insecure-loopback-http"},
		{"a login URL on someone's server", "https://acme.my.salesforce.com", "https://collector.example", nil, false, "spec.loginURL", "not a Salesforce host"},
		{"an instance URL on someone's server", "https://collector.example", "", nil, true, "spec.instanceURL", "not a Salesforce host"},
		{"a gateway the cluster admin allowed", "https://sfgw.corp.example", "", []string{"sfgw.corp.example"}, false, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &LicenseManagementOrgReconciler{deps: &deps{opts: Options{AllowedHosts: tc.allowed, AllowInsecureLoopbackHTTP: tc.plainHTTP}}}
			lmo := &licensingv1alpha1.LicenseManagementOrg{Spec: licensingv1alpha1.LicenseManagementOrgSpec{InstanceURL: tc.instance, LoginURL: tc.login}}
			field, err := r.checkHosts(lmo)
			if tc.field == "" {
				if err != nil {
					t.Errorf("checkHosts: %s: %v, want allowed", field, err)
				}
				return
			}
			if err == nil || field != tc.field || !strings.Contains(err.Error(), tc.message) {
				t.Errorf("checkHosts = %q, %v; want %s refused", field, err, tc.field)
			}
		})
	}
}
