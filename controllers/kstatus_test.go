package controllers_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// Flux's kstatus reads an object with no status and no conditions as Current. The API server's
// default of status.observedGeneration 0 is what makes a new object InProgress instead, from the
// moment it exists until the operator's first status write (which a License with a queued write
// puts off until the write lands).
var _ = Describe("A new object before the operator's first status write", func() {
	It("is InProgress to kstatus, for each of the three kinds", func() {
		ns := fmt.Sprintf("kstatus-%d", GinkgoParallelProcess())
		Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
		for _, sample := range []string{"licensing_v1alpha1_licensemanagementorg.yaml", "licensing_v1alpha1_managedpackage.yaml", "licensing_v1alpha1_license.yaml"} {
			data, err := os.ReadFile(filepath.Join("..", "config", "samples", sample))
			Expect(err).NotTo(HaveOccurred())
			obj := &unstructured.Unstructured{}
			Expect(yaml.Unmarshal(data, &obj.Object)).To(Succeed())
			obj.SetNamespace(ns)
			// The create's answer is the object as stored, before any controller can have written
			// its status.
			Expect(k8sClient.Create(ctx, obj)).To(Succeed(), sample)
			observed, found, err := unstructured.NestedInt64(obj.Object, "status", "observedGeneration")
			Expect(err).NotTo(HaveOccurred(), sample)
			Expect(found).To(BeTrue(), "%s: status.observedGeneration is missing from a new %s", sample, obj.GetKind())
			Expect(observed).To(BeZero(), sample)
			res, err := status.Compute(obj)
			Expect(err).NotTo(HaveOccurred(), sample)
			Expect(res.Status).To(Equal(status.InProgressStatus), "%s: kstatus says %s (%s)", sample, res.Status, res.Message)
		}
	})
})
