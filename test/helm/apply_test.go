package helm_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/utils/ptr"

	"github.com/lmo-operator/lmo-operator/internal/testenv"
)

const fieldManager = "lmo-operator-helm-test"

var crdsGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

var _ = Describe("The rendered chart on a real API server", Ordered, func() {
	var (
		dyn      dynamic.Interface
		mapper   *restmapper.DeferredDiscoveryRESTMapper
		warnings *testenv.WarningRecorder
	)

	// apply server-side applies obj, as a dry run unless forReal, and returns the warnings it drew.
	apply := func(ctx context.Context, obj *unstructured.Unstructured, forReal bool) []string {
		GinkgoHelper()
		gvk := obj.GroupVersionKind()
		mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		Expect(err).NotTo(HaveOccurred(), "%s %s", gvk, obj.GetName())
		var client dynamic.ResourceInterface = dyn.Resource(mapping.Resource)
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			Expect(obj.GetNamespace()).To(Equal(releaseNamespace), "%s %s is not in the release namespace", gvk.Kind, obj.GetName())
			client = dyn.Resource(mapping.Resource).Namespace(obj.GetNamespace())
		} else {
			Expect(obj.GetNamespace()).To(BeEmpty(), "cluster-scoped %s %s has a namespace", gvk.Kind, obj.GetName())
		}
		data, err := json.Marshal(obj.Object)
		Expect(err).NotTo(HaveOccurred())
		opts := metav1.PatchOptions{FieldManager: fieldManager, Force: ptr.To(true), FieldValidation: metav1.FieldValidationStrict}
		if !forReal {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		warnings.Take()
		_, err = client.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, opts)
		Expect(err).NotTo(HaveOccurred(), "applying %s %s", gvk.Kind, obj.GetName())
		return warnings.Take()
	}

	// admitted applies every object (dry run) and the Pod of the Deployment's template, failing on any
	// error or warning.
	admitted := func(ctx context.Context, objs []*unstructured.Unstructured) {
		GinkgoHelper()
		Expect(objs).NotTo(BeEmpty())
		for _, obj := range objs {
			Expect(apply(ctx, obj, false)).To(BeEmpty(), "warnings on %s %s", obj.GetKind(), obj.GetName())
		}
		pod := testenv.PodFromTemplate(onlyOfKind(objs, "Deployment"))
		_, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "pods"}).Namespace(releaseNamespace).
			Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: metav1.FieldValidationStrict})
		Expect(err).NotTo(HaveOccurred(), "the restricted profile refuses the manager's Pod")
		Expect(warnings.Take()).To(BeEmpty(), "warnings on the manager's Pod")
	}

	BeforeAll(func(ctx context.Context) {
		helmBinary() // skips the whole container when there is no helm

		cfg := rest.CopyConfig(testenv.StartControlPlane(GinkgoT(), false).Config)
		warnings = &testenv.WarningRecorder{}
		cfg.WarningHandler = warnings
		var err error
		dyn, err = dynamic.NewForConfig(cfg)
		Expect(err).NotTo(HaveOccurred())
		disco, err := discovery.NewDiscoveryClientForConfig(cfg)
		Expect(err).NotTo(HaveOccurred())
		mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disco))
		Expect(testenv.RestrictedNamespace(ctx, cfg, releaseNamespace)).To(Succeed())
		warnings.Take()
	})

	It("installs the chart's CRDs for real, without a warning, and they become Established", func(ctx context.Context) {
		dir := filepath.Join(chartDir, "crds")
		var names []string
		for _, file := range yamlFiles(dir) {
			b, err := os.ReadFile(filepath.Join(dir, file))
			Expect(err).NotTo(HaveOccurred())
			for _, crd := range testenv.DecodeObjects(b) {
				Expect(apply(ctx, crd, true)).To(BeEmpty(), "warnings on CRD %s", crd.GetName())
				names = append(names, crd.GetName())
			}
		}
		Expect(names).To(HaveLen(3))
		for _, name := range names {
			Eventually(func(g Gomega) {
				u, err := dyn.Resource(crdsGVR).Get(ctx, name, metav1.GetOptions{})
				g.Expect(err).NotTo(HaveOccurred())
				crd := &apiextensionsv1.CustomResourceDefinition{}
				g.Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, crd)).To(Succeed())
				established := false
				for _, c := range crd.Status.Conditions {
					if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
						established = true
					}
				}
				g.Expect(established).To(BeTrue(), "CRD %s is not Established", name)
			}).WithContext(ctx).WithTimeout(30 * time.Second).Should(Succeed())
		}
		mapper.Reset()
		_, err := mapper.RESTMapping(schema.GroupKind{Group: "licensing.lmo-operator.dev", Kind: "License"}, "v1alpha1")
		Expect(err).NotTo(HaveOccurred())
	})

	It("admits every object of the default render, and its Pods under enforce=restricted, with no error or warning", func(ctx context.Context) {
		admitted(ctx, render(releaseName))
	})

	It("admits every object of the override render, and its Pods under enforce=restricted, with no error or warning", func(ctx context.Context) {
		admitted(ctx, render("licensing", "--values", overrideValues))
	})

	It("draws the restricted profile's refusal for a weakened pod security context", func(ctx context.Context) {
		// The chart's own check: values that break the profile must be caught by this test, not slip by.
		objs := render(releaseName, "--set", "securityContext.allowPrivilegeEscalation=true,podSecurityContext.runAsNonRoot=null,securityContext.runAsNonRoot=null")
		deployment := onlyOfKind(objs, "Deployment")
		got := apply(ctx, deployment, false)
		Expect(strings.Join(got, "\n")).To(And(ContainSubstring("restricted"), ContainSubstring("allowPrivilegeEscalation"), ContainSubstring("runAsNonRoot")))
		_, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "pods"}).Namespace(releaseNamespace).
			Create(ctx, testenv.PodFromTemplate(deployment), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		Expect(err).To(MatchError(ContainSubstring(`violates PodSecurity "restricted`)))
		warnings.Take()
	})
})
