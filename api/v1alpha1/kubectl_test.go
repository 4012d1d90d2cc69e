package v1alpha1_test

import (
	"os/exec"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// kubectl works as a person types it: every short name, the category, describe and explain, against
// the real API server with the generated CRDs.
var _ = Describe("kubectl", Ordered, func() {
	var kubeconfig string
	kubectl := func(args ...string) (string, error) {
		out, err := exec.Command("kubectl", append([]string{"--kubeconfig", kubeconfig}, args...)...).CombinedOutput()
		return string(out), err
	}
	must := func(args ...string) string {
		GinkgoHelper()
		out, err := kubectl(args...)
		Expect(err).NotTo(HaveOccurred(), "kubectl %s: %s", strings.Join(args, " "), out)
		return out
	}

	BeforeAll(func() {
		if _, err := exec.LookPath("kubectl"); err != nil {
			Fail("kubectl is required")
		}
		kubeconfig = controlPlane.Kubeconfig(GinkgoT(), "kubectl-user", GinkgoT().TempDir())
		must("create", "namespace", "kubectl-ns")
		for _, o := range []struct{ kind, name, spec string }{
			{"LicenseManagementOrg", "acme", goodLMO},
			{"ManagedPackage", "acme", goodPackage},
			{"License", "acme", goodLicense},
		} {
			obj := obj(o.kind, o.name, o.spec)
			obj.SetNamespace("kubectl-ns")
			Expect(k8sClient.Create(ctx, obj)).To(Succeed())
		}
	})

	DescribeTable("gets one kind by its short name, without another kind of the same name",
		func(short, kind string) {
			out := must("get", short, "acme", "-n", "kubectl-ns", "-o", "jsonpath={.kind}")
			Expect(out).To(Equal(kind))
		},
		Entry("lmo", "lmo", "LicenseManagementOrg"),
		Entry("mpkg", "mpkg", "ManagedPackage"),
		Entry("lic", "lic", "License"),
	)

	It("lists all three kinds through the licensing category", func() {
		out := must("get", "licensing", "-n", "kubectl-ns", "-o", "name")
		Expect(out).To(ContainSubstring("licensemanagementorg.licensing.lmo-operator.dev/acme"))
		Expect(out).To(ContainSubstring("managedpackage.licensing.lmo-operator.dev/acme"))
		Expect(out).To(ContainSubstring("license.licensing.lmo-operator.dev/acme"))
	})

	It("describes and explains each kind", func() {
		for _, short := range []string{"lmo", "mpkg", "lic"} {
			Expect(must("describe", short, "acme", "-n", "kubectl-ns")).To(ContainSubstring("Name:         acme"))
			Expect(must("explain", short+".spec")).To(ContainSubstring("FIELDS:"))
		}
		Expect(must("explain", "lic.spec.expiration")).To(ContainSubstring("Never"))
	})

	It("lists Licenses by customer", func() {
		must("patch", "lic", "acme", "-n", "kubectl-ns", "--subresource=status", "--type=merge",
			"-p", `{"status":{"observed":{"customer":"Globex Corporation","subscriberOrg":{"status":"ACTIVE"}}}}`)
		out := must("get", "lic", "acme", "-n", "kubectl-ns")
		Expect(out).To(MatchRegexp(`(?m)^NAME\s+CUSTOMER\s+SUBSCRIBER\s`))
		Expect(out).To(ContainSubstring("Globex Corporation"))
	})
})
