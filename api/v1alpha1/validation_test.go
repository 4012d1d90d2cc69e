package v1alpha1_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

const apiVersion = "licensing.lmo-operator.dev/v1alpha1"

// obj builds an unstructured object from YAML, so that the tests can send values the Go types cannot
// hold (a string where an integer belongs, an unknown status).
func obj(kind, name, specYAML string) *unstructured.Unstructured {
	spec := map[string]any{}
	Expect(yaml.Unmarshal([]byte(specYAML), &spec)).To(Succeed())
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetName(name)
	u.SetNamespace("default")
	return u
}

const goodLicense = `
packageRef: {name: acme-projects}
subscriberOrgID: 00D5g000004XyZ1AAA
status: Active
seats: 50
expiration: "2027-06-30"
featureParameters:
- {name: acme__MaxProjects, integer: 50}
`

const goodLMO = `
instanceURL: https://acme.my.salesforce.com
auth: {jwtBearer: {secretRef: {name: acme-lmo-jwt}}}
`

const goodPackage = `
lmoRef: {name: acme-lmo}
packageID: 033000000000001AAA
defaults: {status: Trial, trialDays: 30, seats: 10}
`

// with returns the base spec with some keys replaced (a nil value deletes the key).
func with(base string, changes map[string]any) string {
	spec := map[string]any{}
	Expect(yaml.Unmarshal([]byte(base), &spec)).To(Succeed())
	for k, v := range changes {
		if v == nil {
			delete(spec, k)
			continue
		}
		spec[k] = v
	}
	out, err := yaml.Marshal(spec)
	Expect(err).NotTo(HaveOccurred())
	return string(out)
}

var _ = Describe("Admission of bad specs", func() {
	type badInput struct {
		kind string
		spec string
		// field must appear in the API server's message, so a user knows what to fix.
		field string
	}
	fp := func(v map[string]any) []any { return []any{v} }

	DescribeTable("is refused with a message naming the field",
		func(in badInput) {
			err := k8sClient.Create(ctx, obj(in.kind, "bad", in.spec))
			Expect(err).To(HaveOccurred(), "the API server accepted an invalid %s", in.kind)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "unexpected error kind: %v", err)
			Expect(err.Error()).To(ContainSubstring(in.field))
		},
		Entry("seats 0", badInput{"License", with(goodLicense, map[string]any{"seats": 0}), "spec.seats"}),
		Entry("seats 100000000", badInput{"License", with(goodLicense, map[string]any{"seats": 100000000}), "spec.seats"}),
		Entry("seats negative", badInput{"License", with(goodLicense, map[string]any{"seats": -1}), "spec.seats"}),
		Entry("seats \"Site\"", badInput{"License", with(goodLicense, map[string]any{"seats": "Site"}), "spec.seats"}),
		Entry("status Uninstalled", badInput{"License", with(goodLicense, map[string]any{"status": "Uninstalled"}), "spec.status"}),
		Entry("status in lower case", badInput{"License", with(goodLicense, map[string]any{"status": "active"}), "spec.status"}),
		Entry("expiration 2027-13-01", badInput{"License", with(goodLicense, map[string]any{"expiration": "2027-13-01"}), "spec.expiration"}),
		Entry("expiration 2027-02-32", badInput{"License", with(goodLicense, map[string]any{"expiration": "2027-02-32"}), "spec.expiration"}),
		Entry("expiration 2027-02-30, not a calendar date", badInput{"License", with(goodLicense, map[string]any{"expiration": "2027-02-30"}), "spec.expiration"}),
		Entry("a Date feature parameter 2027-02-30", badInput{"License", with(goodLicense, map[string]any{"featureParameters": fp(map[string]any{"name": "acme__X", "date": "2027-02-30"})}), "spec.featureParameters[0].date"}),
		Entry("expiration as a timestamp", badInput{"License", with(goodLicense, map[string]any{"expiration": "2027-06-30T00:00:00Z"}), "spec.expiration"}),
		Entry("expiration never in lower case", badInput{"License", with(goodLicense, map[string]any{"expiration": "never"}), "spec.expiration"}),
		Entry("a feature parameter with two values", badInput{"License", with(goodLicense, map[string]any{"featureParameters": fp(map[string]any{"name": "acme__X", "integer": 1, "boolean": true})}), "spec.featureParameters[0]"}),
		Entry("a feature parameter with no value", badInput{"License", with(goodLicense, map[string]any{"featureParameters": fp(map[string]any{"name": "acme__X"})}), "spec.featureParameters[0]"}),
		Entry("a feature parameter with a string value", badInput{"License", with(goodLicense, map[string]any{"featureParameters": fp(map[string]any{"name": "acme__X", "integer": "fifty"})}), "spec.featureParameters[0].integer"}),
		Entry("a feature parameter with a bad date", badInput{"License", with(goodLicense, map[string]any{"featureParameters": fp(map[string]any{"name": "acme__X", "date": "2027-6-1"})}), "spec.featureParameters[0].date"}),
		Entry("a feature parameter without a name", badInput{"License", with(goodLicense, map[string]any{"featureParameters": fp(map[string]any{"boolean": true})}), "spec.featureParameters[0].name"}),
		Entry("both subscriberOrgID and licenseID", badInput{"License", with(goodLicense, map[string]any{"licenseID": "a0N000000000001AAA"}), "exactly one of subscriberOrgID and licenseID"}),
		Entry("neither subscriberOrgID nor licenseID", badInput{"License", with(goodLicense, map[string]any{"subscriberOrgID": nil}), "exactly one of subscriberOrgID and licenseID"}),
		Entry("a subscriberOrgID that is not an org id", badInput{"License", with(goodLicense, map[string]any{"subscriberOrgID": "005000000000001AAA"}), "spec.subscriberOrgID"}),
		Entry("missing packageRef", badInput{"License", with(goodLicense, map[string]any{"packageRef": nil}), "spec.packageRef"}),
		Entry("an empty packageRef name", badInput{"License", with(goodLicense, map[string]any{"packageRef": map[string]any{"name": ""}}), "spec.packageRef.name"}),
		Entry("managementPolicy Sometimes", badInput{"License", with(goodLicense, map[string]any{"managementPolicy": "Sometimes"}), "spec.managementPolicy"}),
		Entry("deletionPolicy Delete", badInput{"License", with(goodLicense, map[string]any{"deletionPolicy": "Delete"}), "spec.deletionPolicy"}),
		Entry("a non-https non-loopback instanceURL", badInput{"LicenseManagementOrg", with(goodLMO, map[string]any{"instanceURL": "http://acme.my.salesforce.com"}), "spec.instanceURL"}),
		Entry("an instanceURL that is not a URL", badInput{"LicenseManagementOrg", with(goodLMO, map[string]any{"instanceURL": "acme.my.salesforce.com"}), "spec.instanceURL"}),
		Entry("a non-https loginURL", badInput{"LicenseManagementOrg", with(goodLMO, map[string]any{"loginURL": "http://login.salesforce.com"}), "spec.loginURL"}),
		Entry("client credentials on login.salesforce.com", badInput{"LicenseManagementOrg", with(goodLMO, map[string]any{"loginURL": "https://login.salesforce.com",
			"auth": map[string]any{"clientCredentials": map[string]any{"secretRef": map[string]any{"name": "a"}}}}), "spec.loginURL"}),
		Entry("client credentials on test.salesforce.com", badInput{"LicenseManagementOrg", with(goodLMO, map[string]any{"loginURL": "https://test.salesforce.com/",
			"auth": map[string]any{"clientCredentials": map[string]any{"secretRef": map[string]any{"name": "a"}}}}), "spec.loginURL"}),
		Entry("a JWT audience that is not https", badInput{"LicenseManagementOrg", with(goodLMO, map[string]any{
			"auth": map[string]any{"jwtBearer": map[string]any{"secretRef": map[string]any{"name": "a"}, "audience": "login.salesforce.com"}}}), "spec.auth.jwtBearer.audience"}),
		Entry("two auth methods", badInput{"LicenseManagementOrg", with(goodLMO, map[string]any{"auth": map[string]any{
			"jwtBearer": map[string]any{"secretRef": map[string]any{"name": "a"}}, "clientCredentials": map[string]any{"secretRef": map[string]any{"name": "b"}}}}), "spec.auth"}),
		Entry("no auth method", badInput{"LicenseManagementOrg", with(goodLMO, map[string]any{"auth": map[string]any{}}), "spec.auth"}),
		Entry("a pollInterval of 1s", badInput{"LicenseManagementOrg", with(goodLMO, map[string]any{"pollInterval": "1s"}), "spec.pollInterval"}),
		Entry("reservePercent 95", badInput{"LicenseManagementOrg", with(goodLMO, map[string]any{"apiBudget": map[string]any{"reservePercent": 95}}), "spec.apiBudget.reservePercent"}),
		Entry("apiVersion v62", badInput{"LicenseManagementOrg", with(goodLMO, map[string]any{"apiVersion": "v62"}), "spec.apiVersion"}),
		Entry("trialDays 91", badInput{"ManagedPackage", with(goodPackage, map[string]any{"defaults": map[string]any{"status": "Trial", "trialDays": 91, "seats": 10}}), "spec.defaults.trialDays"}),
		Entry("trialDays with Active", badInput{"ManagedPackage", with(goodPackage, map[string]any{"defaults": map[string]any{"status": "Active", "trialDays": 30, "seats": 10}}), "spec.defaults.trialDays"}),
		Entry("defaults status Suspended", badInput{"ManagedPackage", with(goodPackage, map[string]any{"defaults": map[string]any{"status": "Suspended", "seats": 10}}), "spec.defaults.status"}),
		Entry("defaults seats 0", badInput{"ManagedPackage", with(goodPackage, map[string]any{"defaults": map[string]any{"status": "Active", "seats": 0}}), "spec.defaults.seats"}),
		Entry("a packageID that is not a 033 id", badInput{"ManagedPackage", with(goodPackage, map[string]any{"packageID": "a0N000000000001AAA"}), "spec.packageID"}),
		Entry("missing lmoRef", badInput{"ManagedPackage", with(goodPackage, map[string]any{"lmoRef": nil}), "spec.lmoRef"}),
		Entry("defaultsPolicy Always", badInput{"ManagedPackage", with(goodPackage, map[string]any{"defaultsPolicy": "Always"}), "spec.defaultsPolicy"}),
	)

	type badUpdate struct {
		kind, spec string
		change     map[string]any
		field      string
	}
	DescribeTable("an update is refused with a message naming the field",
		func(in badUpdate) {
			o := obj(in.kind, "", in.spec)
			o.SetGenerateName("upd-")
			Expect(k8sClient.Create(ctx, o)).To(Succeed())
			DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, o))).To(Succeed()) })
			spec := o.Object["spec"].(map[string]any)
			for k, v := range in.change {
				if v == nil {
					delete(spec, k)
				} else {
					spec[k] = v
				}
			}
			err := k8sClient.Update(ctx, o)
			Expect(err).To(HaveOccurred(), "the API server accepted the update")
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "unexpected error kind: %v", err)
			Expect(err.Error()).To(ContainSubstring(in.field))
		},
		Entry("a changed subscriberOrgID", badUpdate{"License", goodLicense, map[string]any{"subscriberOrgID": "00D5g000004AbC2AAA"}, "subscriberOrgID is immutable"}),
		Entry("subscriberOrgID swapped for licenseID", badUpdate{"License", goodLicense, map[string]any{"subscriberOrgID": nil, "licenseID": "a0N000000000001AAA"}, "subscriberOrgID is immutable"}),
		Entry("a changed licenseID", badUpdate{"License", with(goodLicense, map[string]any{"subscriberOrgID": nil, "licenseID": "a0N000000000001AAA"}), map[string]any{"licenseID": "a0N000000000002AAA"}, "licenseID is immutable"}),
		Entry("a changed packageRef", badUpdate{"License", goodLicense, map[string]any{"packageRef": map[string]any{"name": "other"}}, "packageRef is immutable"}),
		Entry("Active to Trial", badUpdate{"License", goodLicense, map[string]any{"status": "Trial"}, "spec.status"}),
		Entry("a changed packageID", badUpdate{"ManagedPackage", goodPackage, map[string]any{"packageID": "033000000000002AAA"}, "packageID is immutable"}),
	)

	It("accepts Trial to Active and Active to Suspended", func() {
		o := obj("License", "upgrade", with(goodLicense, map[string]any{"status": "Trial"}))
		Expect(k8sClient.Create(ctx, o)).To(Succeed())
		DeferCleanup(func() { Expect(k8sClient.Delete(ctx, o)).To(Succeed()) })
		for _, status := range []string{"Active", "Suspended", "Active"} {
			o.Object["spec"].(map[string]any)["status"] = status
			Expect(k8sClient.Update(ctx, o)).To(Succeed(), "status %s", status)
		}
	})

	It("accepts client credentials on a My Domain and a JWT audience for a site", func() {
		for name, spec := range map[string]string{
			"cc-mydomain": with(goodLMO, map[string]any{"loginURL": "https://acme.my.salesforce.com",
				"auth": map[string]any{"clientCredentials": map[string]any{"secretRef": map[string]any{"name": "a"}}}}),
			"jwt-login": with(goodLMO, map[string]any{"loginURL": "https://login.salesforce.com"}),
			"jwt-site": with(goodLMO, map[string]any{"auth": map[string]any{"jwtBearer": map[string]any{
				"secretRef": map[string]any{"name": "a"}, "audience": "https://acme.my.site.com"}}}),
		} {
			o := obj("LicenseManagementOrg", name, spec)
			Expect(k8sClient.Create(ctx, o)).To(Succeed(), name)
			DeferCleanup(func() { Expect(k8sClient.Delete(ctx, o)).To(Succeed()) })
		}
	})

	It("fills in the documented defaults", func() {
		o := obj("LicenseManagementOrg", "defaults", goodLMO)
		Expect(k8sClient.Create(ctx, o)).To(Succeed())
		DeferCleanup(func() { Expect(k8sClient.Delete(ctx, o)).To(Succeed()) })
		spec := o.Object["spec"].(map[string]any)
		Expect(spec).To(HaveKeyWithValue("pollInterval", "1m"))
		Expect(spec).To(HaveKeyWithValue("resyncInterval", "6h"))
		Expect(spec).To(HaveKeyWithValue("apiVersion", "62.0"))
		Expect(spec["apiBudget"]).To(HaveKeyWithValue("reservePercent", BeNumerically("==", 20)))
	})
})

var _ = Describe("The samples in config/samples", func() {
	It("are all accepted by the API server", func() {
		files, err := filepath.Glob(filepath.Join("..", "..", "config", "samples", "licensing_*.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(files).NotTo(BeEmpty())
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "samples"}}
		Expect(client.IgnoreAlreadyExists(k8sClient.Create(ctx, ns))).To(Succeed())
		count := 0
		for _, f := range files {
			data, err := os.ReadFile(f)
			Expect(err).NotTo(HaveOccurred())
			dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(string(data)), 4096)
			for {
				u := &unstructured.Unstructured{}
				if err := dec.Decode(&u.Object); err != nil {
					break
				}
				if len(u.Object) == 0 {
					continue
				}
				u.SetNamespace("samples")
				Expect(k8sClient.Create(ctx, u, client.DryRunAll)).To(Succeed(), "%s: %s", f, u.GetName())
				count++
			}
		}
		Expect(count).To(BeNumerically(">=", 3))
	})
})

var _ = Describe("kubectl explain", func() {
	It("prints the documentation of license.spec.seats", func() {
		kubectl, err := exec.LookPath("kubectl")
		if err != nil {
			Skip("kubectl is not installed")
		}
		path := controlPlane.Kubeconfig(GinkgoT(), "admin", GinkgoT().TempDir())
		Eventually(func(g Gomega) {
			cmd := exec.Command(kubectl, "--kubeconfig", path, "--cache-dir", GinkgoT().TempDir(), "explain", "license.spec.seats")
			out, err := cmd.CombinedOutput()
			g.Expect(err).NotTo(HaveOccurred(), string(out))
			g.Expect(string(out)).To(ContainSubstring("number of licensed users"))
			g.Expect(string(out)).To(ContainSubstring("SiteLicense"))
		}).WithTimeout(60 * time.Second).WithPolling(time.Second).Should(Succeed())
	})
})
