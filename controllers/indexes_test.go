package controllers

import (
	"context"
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
)

// Licenses share index buckets: a lookup by record key returns only the Licenses that have the key,
// not the others of its bucket.
func TestLicensesWithKeyKeepsOnlyTheKeysOwnLicenses(t *testing.T) {
	org := func(i int) string { return fmt.Sprintf("00DB%011d", i) }
	// Two subscriber orgs whose keys fall in one bucket.
	a, b := -1, -1
	seen := map[string]int{}
	for i := 0; a < 0; i++ {
		bucket := recordBucket(subscriberKey(org(i)))
		if j, ok := seen[bucket]; ok {
			a, b = j, i
		}
		seen[bucket] = i
	}
	lic := func(name, sub, licenseID string) *licensingv1alpha1.License {
		return &licensingv1alpha1.License{ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: name},
			Spec: licensingv1alpha1.LicenseSpec{PackageRef: licensingv1alpha1.LocalObjectReference{Name: testPackage}, SubscriberOrgID: sub, LicenseID: licenseID}}
	}
	c := newFakeClient(t, lic("first", org(a), ""), lic("second", org(b), ""), lic("pinned", "", "a0B000000000001AAA"))
	for _, tc := range []struct {
		key  string
		want []string
	}{
		{subscriberKey(org(a)), []string{"first"}},
		{subscriberKey(org(b) + "XYZ"), []string{"second"}}, // an 18-character id has the 15-character key
		{licenseKey("a0B000000000001"), []string{"pinned"}},
		{subscriberKey(org(a + b + 1)), nil},
	} {
		for _, unsafe := range []bool{false, true} {
			got, err := licensesWithKey(context.Background(), c, testNS, tc.key, unsafe)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, l := range got {
				names = append(names, l.Name)
			}
			if fmt.Sprint(names) != fmt.Sprint(tc.want) {
				t.Errorf("licensesWithKey(%q, unsafe=%v) = %v, want %v", tc.key, unsafe, names, tc.want)
			}
		}
	}
}
