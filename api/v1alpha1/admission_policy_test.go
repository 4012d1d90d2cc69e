package v1alpha1_test

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
)

// The admission policies of config/admission, installed as shipped except that their bindings are
// narrowed to one namespace (the other specs of the suite create objects elsewhere), and the team
// role of config/rbac bound to people the way a cluster admin would.

// policyObjects reads the objects of one file of config/admission.
func policyObjects(file string) []*unstructured.Unstructured {
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "admission", file))
	Expect(err).NotTo(HaveOccurred())
	var out []*unstructured.Unstructured
	for _, doc := range strings.Split(string(data), "\n---\n") {
		u := &unstructured.Unstructured{}
		Expect(utilyaml.Unmarshal([]byte(doc), &u.Object)).To(Succeed())
		if len(u.Object) > 0 {
			out = append(out, u)
		}
	}
	return out
}

// userClient is a client that authenticates as name, a member of groups.
func userClient(name string, groups ...string) client.Client {
	u, err := controlPlane.Env.AddUser(envtest.User{Name: name, Groups: groups}, controlPlane.Config)
	Expect(err).NotTo(HaveOccurred())
	c, err := client.New(u.Config(), client.Options{Scheme: clientScheme})
	Expect(err).NotTo(HaveOccurred())
	return c
}

var _ = Describe("The admission policies of config/admission", Ordered, func() {
	const ns = "admission-policies"
	var params *corev1.ConfigMap
	var alice, bob client.Client // alice is on the team; bob is on the team and an approver

	lmo := func(name string, spec map[string]any) *unstructured.Unstructured {
		u := obj("LicenseManagementOrg", name, with(goodLMO, spec))
		u.SetNamespace(ns)
		return u
	}
	license := func(c client.Client, name string, annotations map[string]string, opts ...client.CreateOption) error {
		u := obj("License", name, goodLicense)
		u.SetNamespace(ns)
		u.SetAnnotations(annotations)
		return c.Create(ctx, u, opts...)
	}
	setApproval := func(c client.Client, name, value string) error {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion(apiVersion)
		u.SetKind("License")
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, u)).To(Succeed())
		ann := u.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		if value == "" {
			delete(ann, licensingv1alpha1.AnnotationAllowAccessReduction)
		} else {
			ann[licensingv1alpha1.AnnotationAllowAccessReduction] = value
		}
		u.SetAnnotations(ann)
		return c.Update(ctx, u)
	}

	BeforeAll(func() {
		for _, name := range []string{ns, "lmo-operator-system"} {
			n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
			Expect(client.IgnoreAlreadyExists(k8sClient.Create(ctx, n))).To(Succeed())
		}
		var files []*unstructured.Unstructured
		for _, f := range []string{"params.yaml", "salesforce_hosts.yaml", "approvers.yaml"} {
			files = append(files, policyObjects(f)...)
		}
		for _, u := range files {
			if u.GetKind() == "ValidatingAdmissionPolicyBinding" {
				Expect(unstructured.SetNestedStringMap(u.Object, map[string]string{"kubernetes.io/metadata.name": ns},
					"spec", "matchResources", "namespaceSelector", "matchLabels")).To(Succeed())
			}
			Expect(k8sClient.Create(ctx, u)).To(Succeed(), "%s %s", u.GetKind(), u.GetName())
		}
		params = &corev1.ConfigMap{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: "lmo-operator-system", Name: "lmo-operator-admission"}, params)).To(Succeed())

		// The team role, bound in the namespace as a cluster admin binds it for a team.
		data, err := os.ReadFile(filepath.Join("..", "..", "config", "rbac", "license_editor_role.yaml"))
		Expect(err).NotTo(HaveOccurred())
		role := &rbacv1.ClusterRole{}
		Expect(yaml.Unmarshal(data, role)).To(Succeed())
		Expect(client.IgnoreAlreadyExists(k8sClient.Create(ctx, role))).To(Succeed())
		Expect(k8sClient.Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "team-a"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "Group", Name: "team-a"}},
		})).To(Succeed())
		alice = userClient("alice", "team-a")
		bob = userClient("bob", "team-a", "licensing-approvers")

		// A policy takes effect once the API server has compiled it.
		Eventually(func() error {
			return k8sClient.Create(ctx, lmo("probe", map[string]any{"instanceURL": "https://probe.example.com"}), client.DryRunAll)
		}).
			WithTimeout(30 * time.Second).WithPolling(250 * time.Millisecond).Should(HaveOccurred())
		Eventually(func() error {
			return license(alice, "probe", map[string]string{licensingv1alpha1.AnnotationAllowAccessReduction: "x"}, client.DryRunAll)
		}).
			WithTimeout(30 * time.Second).WithPolling(250 * time.Millisecond).Should(HaveOccurred())
	})

	Describe("Salesforce hosts", func() {
		DescribeTable("refuses a LicenseManagementOrg that would send credentials elsewhere, naming the field",
			func(spec map[string]any, field string) {
				err := k8sClient.Create(ctx, lmo("elsewhere", spec))
				Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
				Expect(err.Error()).To(ContainSubstring(field + ": host "))
			},
			Entry("instanceURL on another host", map[string]any{"instanceURL": "https://acme.example.com"}, "spec.instanceURL"),
			Entry("instanceURL that only ends like Salesforce", map[string]any{"instanceURL": "https://evil-salesforce.com"}, "spec.instanceURL"),
			Entry("loginURL on another host", map[string]any{"loginURL": "https://login.example.com"}, "spec.loginURL"),
			Entry("loginURL under a Salesforce-looking subdomain of another host", map[string]any{"loginURL": "https://login.salesforce.com.example.com"}, "spec.loginURL"),
		)

		DescribeTable("admits Salesforce hosts",
			func(name string, spec map[string]any) {
				Expect(k8sClient.Create(ctx, lmo(name, spec))).To(Succeed())
			},
			Entry("My Domain", "my-domain", map[string]any{}),
			Entry("a sandbox My Domain with test.salesforce.com", "sandbox", map[string]any{
				"instanceURL": "https://acme--uat.sandbox.my.salesforce.com", "loginURL": "https://test.salesforce.com"}),
			Entry("an Experience Cloud site", "site", map[string]any{"loginURL": "https://acme.my.site.com"}),
		)

		It("admits a host the cluster admin allowed, and only then", func() {
			spec := map[string]any{"instanceURL": "https://sf-gateway.internal.example"}
			Expect(k8sClient.Create(ctx, lmo("gateway", spec))).NotTo(Succeed())
			params.Data["allowedHosts"] = "lmosim.local, SF-Gateway.internal.example"
			Expect(k8sClient.Update(ctx, params)).To(Succeed())
			Eventually(func() error { return k8sClient.Create(ctx, lmo("gateway", spec)) }).
				WithTimeout(30 * time.Second).WithPolling(250 * time.Millisecond).Should(Succeed())
		})

		It("lets a LicenseManagementOrg admitted before keep its URL through updates", func() {
			u := lmo("kept", map[string]any{})
			Expect(k8sClient.Create(ctx, u)).To(Succeed())
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(u), u)).To(Succeed())
			u.SetFinalizers([]string{"licensing.lmo-operator.dev/test"})
			Expect(k8sClient.Update(ctx, u)).To(Succeed())
			Expect(unstructured.SetNestedField(u.Object, "https://elsewhere.example.org", "spec", "instanceURL")).To(Succeed())
			err := k8sClient.Update(ctx, u)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring("spec.instanceURL: host elsewhere.example.org"))
		})
	})

	Describe("the team role and the approvers", func() {
		It("does not let a team member change a LicenseManagementOrg", func() {
			u := lmo("team-target", map[string]any{})
			Expect(k8sClient.Create(ctx, u)).To(Succeed())
			Expect(alice.Get(ctx, client.ObjectKeyFromObject(u), u)).To(Succeed(), "the team reads LicenseManagementOrgs")
			Expect(unstructured.SetNestedField(u.Object, "https://login.salesforce.com", "spec", "loginURL")).To(Succeed())
			Expect(apierrors.IsForbidden(alice.Update(ctx, u))).To(BeTrue())
			Expect(apierrors.IsForbidden(alice.Create(ctx, lmo("team-own", map[string]any{})))).To(BeTrue())
		})

		It("lets a team member propose a License but not approve its access reduction", func() {
			Expect(license(alice, "proposed", nil)).To(Succeed())
			err := setApproval(alice, "proposed", "0123456789")
			Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
			Expect(err.Error()).To(ContainSubstring("only a member of the approver groups (licensing-approvers)"))
			err = license(alice, "proposed-approved", map[string]string{licensingv1alpha1.AnnotationAllowAccessReduction: "0123456789"})
			Expect(apierrors.IsForbidden(err)).To(BeTrue(), "a License created already approved: %v", err)
		})

		It("lets an approver approve, the team keep editing an approved License, and anyone withdraw an approval", func() {
			Expect(license(alice, "reviewed", nil)).To(Succeed())
			Expect(setApproval(bob, "reviewed", "0123456789")).To(Succeed())

			u := &unstructured.Unstructured{}
			u.SetAPIVersion(apiVersion)
			u.SetKind("License")
			Expect(alice.Get(ctx, client.ObjectKey{Namespace: ns, Name: "reviewed"}, u)).To(Succeed())
			Expect(unstructured.SetNestedField(u.Object, int64(40), "spec", "seats")).To(Succeed())
			Expect(alice.Update(ctx, u)).To(Succeed(), "an edit that leaves the approval as it is")

			err := setApproval(alice, "reviewed", "9999999999")
			Expect(apierrors.IsForbidden(err)).To(BeTrue(), "a team member changing the approval: %v", err)
			Expect(setApproval(alice, "reviewed", "")).To(Succeed(), "taking an approval away")
		})
	})
})
