package security_test

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/lmo-operator/lmo-operator/internal/testenv"
)

var (
	deploymentsGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	podsGVR        = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	dryRunCreate   = metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: metav1.FieldValidationStrict}
)

// renderDefault runs `kubectl kustomize config/default` and returns the objects it renders.
func renderDefault(kubectl string) []*unstructured.Unstructured {
	GinkgoHelper()
	cmd := exec.Command(kubectl, "kustomize", filepath.Join(repoRoot, "config", "default"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	Expect(err).NotTo(HaveOccurred(), "kubectl kustomize config/default: %s", stderr.String())
	return testenv.DecodeObjects(out)
}

// onlyOfKind returns the single rendered object of kind.
func onlyOfKind(objs []*unstructured.Unstructured, kind string) *unstructured.Unstructured {
	GinkgoHelper()
	var found []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			found = append(found, o)
		}
	}
	Expect(found).To(HaveLen(1), "config/default should render exactly one %s", kind)
	return found[0].DeepCopy()
}

// weakenSecurityContext returns a copy of the Deployment that may run as root and escalate
// privileges: what the restricted profile exists to refuse.
func weakenSecurityContext(deployment *unstructured.Unstructured) *unstructured.Unstructured {
	GinkgoHelper()
	weak := deployment.DeepCopy()
	unstructured.RemoveNestedField(weak.Object, "spec", "template", "spec", "securityContext", "runAsNonRoot")
	containers, _, err := unstructured.NestedSlice(weak.Object, "spec", "template", "spec", "containers")
	Expect(err).NotTo(HaveOccurred())
	Expect(containers).NotTo(BeEmpty())
	for _, c := range containers {
		container := c.(map[string]any)
		unstructured.RemoveNestedField(container, "securityContext", "runAsNonRoot")
		Expect(unstructured.SetNestedField(container, true, "securityContext", "allowPrivilegeEscalation")).To(Succeed())
	}
	Expect(unstructured.SetNestedSlice(weak.Object, containers, "spec", "template", "spec", "containers")).To(Succeed())
	return weak
}

var _ = Describe("The manager Deployment under the restricted pod-security profile", Ordered, func() {
	const namespace = "restricted"

	var (
		dyn        dynamic.Interface
		warnings   *testenv.WarningRecorder
		deployment *unstructured.Unstructured
		rendered   []*unstructured.Unstructured
	)

	BeforeAll(func(ctx context.Context) {
		kubectl, err := exec.LookPath("kubectl")
		if err != nil {
			Skip("kubectl is not on PATH; it renders config/default")
		}
		rendered = renderDefault(kubectl)
		deployment = onlyOfKind(rendered, "Deployment")
		deployment.SetNamespace(namespace)

		cfg := rest.CopyConfig(testenv.StartControlPlane(GinkgoT(), true).Config)
		warnings = &testenv.WarningRecorder{}
		cfg.WarningHandler = warnings
		dyn, err = dynamic.NewForConfig(cfg)
		Expect(err).NotTo(HaveOccurred())
		Expect(testenv.RestrictedNamespace(ctx, cfg, namespace)).To(Succeed())
		warnings.Take()
	})

	It("installs into a namespace that enforces the restricted profile", func() {
		ns := onlyOfKind(rendered, "Namespace")
		Expect(ns.GetLabels()).To(HaveKeyWithValue("pod-security.kubernetes.io/enforce", "restricted"))
	})

	It("is admitted without a warning", func(ctx context.Context) {
		_, err := dyn.Resource(deploymentsGVR).Namespace(namespace).Create(ctx, deployment, dryRunCreate)
		Expect(err).NotTo(HaveOccurred())
		Expect(warnings.Take()).To(BeEmpty())
	})

	It("runs Pods that the enforce level admits without a warning", func(ctx context.Context) {
		_, err := dyn.Resource(podsGVR).Namespace(namespace).Create(ctx, testenv.PodFromTemplate(deployment), dryRunCreate)
		Expect(err).NotTo(HaveOccurred())
		Expect(warnings.Take()).To(BeEmpty())
	})

	Context("with runAsNonRoot removed and allowPrivilegeEscalation set", func() {
		var weak *unstructured.Unstructured

		BeforeAll(func() {
			weak = weakenSecurityContext(deployment)
		})

		It("draws a warning naming both fields", func(ctx context.Context) {
			_, err := dyn.Resource(deploymentsGVR).Namespace(namespace).Create(ctx, weak, dryRunCreate)
			Expect(err).NotTo(HaveOccurred(), "pod security only warns on workloads; enforce applies to their Pods")
			got := strings.Join(warnings.Take(), "\n")
			Expect(got).To(ContainSubstring("restricted"))
			Expect(got).To(ContainSubstring("allowPrivilegeEscalation"))
			Expect(got).To(ContainSubstring("runAsNonRoot"))
		})

		It("has its Pods denied", func(ctx context.Context) {
			_, err := dyn.Resource(podsGVR).Namespace(namespace).Create(ctx, testenv.PodFromTemplate(weak), dryRunCreate)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(And(
				ContainSubstring("violates PodSecurity \"restricted"),
				ContainSubstring("allowPrivilegeEscalation"),
				ContainSubstring("runAsNonRoot"),
			))
		})
	})
})
