package helm_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/yaml"
)

// These checks read the chart's static files only, so they run without helm or a control plane: they
// keep the copies the chart carries from going stale.

// yamlFiles returns the names of the .yaml files in dir.
func yamlFiles(dir string) []string {
	GinkgoHelper()
	entries, err := os.ReadDir(dir)
	Expect(err).NotTo(HaveOccurred())
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".yaml") {
			names = append(names, e.Name())
		}
	}
	return names
}

func readFile(path string) []byte {
	GinkgoHelper()
	b, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	return b
}

// asJSON decodes YAML into generic JSON values, so that two documents compare by content.
func asJSON(b []byte) any {
	GinkgoHelper()
	j, err := yaml.YAMLToJSON(b)
	Expect(err).NotTo(HaveOccurred())
	var v any
	Expect(json.Unmarshal(j, &v)).To(Succeed())
	return v
}

// managerHasWatchNamespacesFlag reports whether cmd/manager defines --watch-namespaces.
func managerHasWatchNamespacesFlag() bool {
	GinkgoHelper()
	return bytes.Contains(readFile(filepath.Join(repoRoot, "cmd", "manager", "main.go")), []byte(`"watch-namespaces"`))
}

var _ = Describe("The chart's static files", func() {
	It("carries exactly the CRDs of config/crd/bases, unchanged", func() {
		bases := filepath.Join(repoRoot, "config", "crd", "bases")
		crds := filepath.Join(chartDir, "crds")
		const fix = "run: rm -f charts/lmo-operator/crds/*.yaml && cp config/crd/bases/*.yaml charts/lmo-operator/crds/"
		Expect(yamlFiles(crds)).To(Equal(yamlFiles(bases)), fix)
		for _, name := range yamlFiles(bases) {
			Expect(string(readFile(filepath.Join(crds, name)))).To(Equal(string(readFile(filepath.Join(bases, name)))),
				"charts/lmo-operator/crds/%s differs from config/crd/bases; %s", name, fix)
		}
	})

	It("carries the generated manager ClusterRole of config/rbac, unchanged", func() {
		Expect(string(readFile(filepath.Join(chartDir, "files", "manager-role.yaml")))).
			To(Equal(string(readFile(filepath.Join(repoRoot, "config", "rbac", "role.yaml")))),
				"run: cp config/rbac/role.yaml charts/lmo-operator/files/manager-role.yaml")
	})

	It("alerts with the rule groups of the PrometheusRule in config/prometheus", func() {
		dir := filepath.Join(repoRoot, "config", "prometheus")
		var groups []any
		for _, name := range yamlFiles(dir) {
			for _, doc := range splitDocuments(readFile(filepath.Join(dir, name))) {
				obj, ok := asJSON(doc).(map[string]any)
				if ok && obj["kind"] == "PrometheusRule" {
					spec, _ := obj["spec"].(map[string]any)
					groups = append(groups, spec["groups"])
				}
			}
		}
		chart := asJSON(readFile(filepath.Join(chartDir, "files", "prometheus-rules.yaml"))).(map[string]any)
		Expect(chart["groups"]).NotTo(BeEmpty())
		if len(groups) == 0 {
			Skip("config/prometheus has no PrometheusRule yet; nothing to compare charts/lmo-operator/files/prometheus-rules.yaml with")
		}
		Expect(groups).To(HaveLen(1), "config/prometheus should hold one PrometheusRule")
		Expect(chart["groups"]).To(Equal(groups[0]),
			"charts/lmo-operator/files/prometheus-rules.yaml should hold the spec.groups of the PrometheusRule in config/prometheus")
	})

	It("passes watchNamespaces to a flag the manager defines", func() {
		Expect(managerHasWatchNamespacesFlag()).To(BeTrue(),
			"cmd/manager no longer defines --watch-namespaces, which charts/lmo-operator/templates/deployment.yaml passes")
	})
})
