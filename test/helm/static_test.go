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

	"github.com/lmo-operator/lmo-operator/internal/testenv"
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
			for _, doc := range testenv.SplitDocuments(readFile(filepath.Join(dir, name))) {
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

// valuePaths lists the dotted paths of values.yaml down to its leaves; an empty map or a list is a
// leaf (its content is the user's).
func valuePaths(prefix string, v any) []string {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return []string{prefix}
	}
	var out []string
	for k, child := range m {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		out = append(out, valuePaths(p, child)...)
	}
	return out
}

var _ = Describe("values.yaml", func() {
	It("has no value that no template reads", func() {
		var values map[string]any
		Expect(yaml.Unmarshal(readFile(filepath.Join(chartDir, "values.yaml")), &values)).To(Succeed())
		var templates strings.Builder
		entries, err := os.ReadDir(filepath.Join(chartDir, "templates"))
		Expect(err).NotTo(HaveOccurred())
		for _, e := range entries {
			templates.Write(readFile(filepath.Join(chartDir, "templates", e.Name())))
		}
		text := templates.String()
		// used: the path or one of its ancestors is read whole (.Values.a.b followed by no further
		// key), as toYaml and with blocks read a map.
		used := func(path string) bool {
			parts := strings.Split(path, ".")
			for i := len(parts); i > 0; i-- {
				ref := ".Values." + strings.Join(parts[:i], ".")
				for at := strings.Index(text, ref); at >= 0; {
					end := at + len(ref)
					if end == len(text) || !strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.", rune(text[end])) {
						return true
					}
					next := strings.Index(text[end:], ref)
					if next < 0 {
						break
					}
					at = end + next
				}
			}
			return false
		}
		paths := valuePaths("", values)
		Expect(len(paths)).To(BeNumerically(">", 30))
		var unused []string
		for _, p := range paths {
			if !used(p) {
				unused = append(unused, p)
			}
		}
		Expect(unused).To(BeEmpty(), "values.yaml has values no template reads")
	})
})
