package controllers_test

import (
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
)

// eventsv1List wraps the core Event list, which the recorder writes.
type eventsv1List struct{ corev1.EventList }

func createSecret(ns, name string, data map[string]string) {
	Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: data})).To(Succeed())
}

func patchAnnotations(ns, name string, ann map[string]string) {
	var l licensingv1alpha1.License
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &l)).To(Succeed())
	patch := client.MergeFrom(l.DeepCopy())
	if l.Annotations == nil {
		l.Annotations = map[string]string{}
	}
	for k, v := range ann {
		l.Annotations[k] = v
	}
	Expect(k8sClient.Patch(ctx, &l, patch)).To(Succeed())
}

// gaugeValue reads a gauge of the manager's metrics registry by its labels.
func gaugeValue(name string, labels map[string]string) (float64, bool) {
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		return 0, false
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue series
				}
			}
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}
