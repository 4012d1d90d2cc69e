package security_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

// warningRecorder collects the warnings the API server sends back, so a test can assert on them.
type warningRecorder struct {
	mu       sync.Mutex
	warnings []string
}

var _ rest.WarningHandler = (*warningRecorder)(nil)

func (w *warningRecorder) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.warnings = append(w.warnings, text)
}

// take returns the warnings recorded so far and forgets them.
func (w *warningRecorder) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.warnings
	w.warnings = nil
	return out
}

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
	var objs []*unstructured.Unstructured
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(out)))
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		Expect(err).NotTo(HaveOccurred())
		obj := &unstructured.Unstructured{}
		Expect(yaml.Unmarshal(doc, &obj.Object)).To(Succeed())
		if len(obj.Object) > 0 {
			objs = append(objs, obj)
		}
	}
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

// podFromTemplate builds the Pod a ReplicaSet would create from the Deployment's template. Pod
// security is enforced on Pods only; on workloads it only warns, so this Pod is what enforce sees.
func podFromTemplate(deployment *unstructured.Unstructured) *unstructured.Unstructured {
	GinkgoHelper()
	template, found, err := unstructured.NestedMap(deployment.Object, "spec", "template")
	Expect(err).NotTo(HaveOccurred())
	Expect(found).To(BeTrue())
	pod := &unstructured.Unstructured{Object: template}
	pod.SetAPIVersion("v1")
	pod.SetKind("Pod")
	pod.SetName(deployment.GetName())
	pod.SetNamespace(deployment.GetNamespace())
	return pod
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
		testEnv    *envtest.Environment
		dyn        dynamic.Interface
		warnings   *warningRecorder
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

		testEnv = &envtest.Environment{
			CRDDirectoryPaths:     []string{filepath.Join(repoRoot, "config", "crd", "bases")},
			ErrorIfCRDPathMissing: true,
		}
		cfg, err := testEnv.Start()
		Expect(err).NotTo(HaveOccurred(), "starting envtest; run with KUBEBUILDER_ASSETS=$(hack/envtest.sh)")
		DeferCleanup(testEnv.Stop)

		cfg = rest.CopyConfig(cfg)
		warnings = &warningRecorder{}
		cfg.WarningHandler = warnings
		dyn, err = dynamic.NewForConfig(cfg)
		Expect(err).NotTo(HaveOccurred())
		clientset, err := kubernetes.NewForConfig(cfg)
		Expect(err).NotTo(HaveOccurred())
		_, err = clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
			Name: namespace,
			Labels: map[string]string{
				"pod-security.kubernetes.io/enforce": "restricted",
				"pod-security.kubernetes.io/warn":    "restricted",
			},
		}}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		warnings.take()
	})

	It("installs into a namespace that enforces the restricted profile", func() {
		ns := onlyOfKind(rendered, "Namespace")
		Expect(ns.GetLabels()).To(HaveKeyWithValue("pod-security.kubernetes.io/enforce", "restricted"))
	})

	It("is admitted without a warning", func(ctx context.Context) {
		_, err := dyn.Resource(deploymentsGVR).Namespace(namespace).Create(ctx, deployment, dryRunCreate)
		Expect(err).NotTo(HaveOccurred())
		Expect(warnings.take()).To(BeEmpty())
	})

	It("runs Pods that the enforce level admits without a warning", func(ctx context.Context) {
		_, err := dyn.Resource(podsGVR).Namespace(namespace).Create(ctx, podFromTemplate(deployment), dryRunCreate)
		Expect(err).NotTo(HaveOccurred())
		Expect(warnings.take()).To(BeEmpty())
	})

	Context("with runAsNonRoot removed and allowPrivilegeEscalation set", func() {
		var weak *unstructured.Unstructured

		BeforeAll(func() {
			weak = weakenSecurityContext(deployment)
		})

		It("draws a warning naming both fields", func(ctx context.Context) {
			_, err := dyn.Resource(deploymentsGVR).Namespace(namespace).Create(ctx, weak, dryRunCreate)
			Expect(err).NotTo(HaveOccurred(), "pod security only warns on workloads; enforce applies to their Pods")
			got := strings.Join(warnings.take(), "\n")
			Expect(got).To(ContainSubstring("restricted"))
			Expect(got).To(ContainSubstring("allowPrivilegeEscalation"))
			Expect(got).To(ContainSubstring("runAsNonRoot"))
		})

		It("has its Pods denied", func(ctx context.Context) {
			_, err := dyn.Resource(podsGVR).Namespace(namespace).Create(ctx, podFromTemplate(weak), dryRunCreate)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(And(
				ContainSubstring("violates PodSecurity \"restricted"),
				ContainSubstring("allowPrivilegeEscalation"),
				ContainSubstring("runAsNonRoot"),
			))
		})
	})
})
