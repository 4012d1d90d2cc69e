package testenv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"sync"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// WarningRecorder collects the warnings the API server sends back, so a test can assert on them; set
// it as a rest.Config's WarningHandler.
type WarningRecorder struct {
	mu       sync.Mutex
	warnings []string
}

var _ rest.WarningHandler = (*WarningRecorder)(nil)

// HandleWarningHeader records a warning.
func (w *WarningRecorder) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.warnings = append(w.warnings, text)
}

// Take returns the warnings recorded so far and forgets them.
func (w *WarningRecorder) Take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.warnings
	w.warnings = nil
	return out
}

// RestrictedNamespace creates a namespace that enforces, and warns on, the restricted pod-security
// profile.
func RestrictedNamespace(ctx context.Context, cfg *rest.Config, name string) error {
	clientset, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	_, err = clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: name,
		Labels: map[string]string{
			"pod-security.kubernetes.io/enforce": "restricted",
			"pod-security.kubernetes.io/warn":    "restricted",
		},
	}}, metav1.CreateOptions{})
	return err
}

// SplitDocuments splits a multi-document YAML stream, dropping empty documents.
func SplitDocuments(b []byte) [][]byte {
	ginkgo.GinkgoHelper()
	var docs [][]byte
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return docs
		}
		gomega.Expect(err).NotTo(gomega.HaveOccurred())
		if len(bytes.TrimSpace(doc)) > 0 {
			docs = append(docs, doc)
		}
	}
}

// DecodeObjects parses a multi-document YAML stream (a render of kustomize or helm) into objects.
func DecodeObjects(b []byte) []*unstructured.Unstructured {
	ginkgo.GinkgoHelper()
	var objs []*unstructured.Unstructured
	for _, doc := range SplitDocuments(b) {
		obj := &unstructured.Unstructured{}
		gomega.Expect(yaml.Unmarshal(doc, &obj.Object)).To(gomega.Succeed(), "rendered document:\n%s", doc)
		if len(obj.Object) > 0 {
			objs = append(objs, obj)
		}
	}
	return objs
}

// PodFromTemplate builds the Pod a ReplicaSet would create from a Deployment's template. Pod security
// is enforced on Pods only; on workloads it only warns, so this Pod is what enforce sees.
func PodFromTemplate(deployment *unstructured.Unstructured) *unstructured.Unstructured {
	ginkgo.GinkgoHelper()
	template, found, err := unstructured.NestedMap(deployment.Object, "spec", "template")
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	gomega.Expect(found).To(gomega.BeTrue())
	pod := &unstructured.Unstructured{Object: template}
	pod.SetAPIVersion("v1")
	pod.SetKind("Pod")
	pod.SetName(deployment.GetName())
	pod.SetNamespace(deployment.GetNamespace())
	return pod
}
