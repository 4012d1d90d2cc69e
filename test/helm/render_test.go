package helm_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/lmo-operator/lmo-operator/internal/testenv"
)

const (
	// The release the default render uses: its names are then those config/default renders.
	releaseName      = "lmo-operator"
	releaseNamespace = "lmo-operator-system"
)

var overrideValues = filepath.Join("testdata", "override-values.yaml")

var (
	helmOnce sync.Once
	helmPath string
	helmErr  error
)

// helmBinary returns the helm CLI: $HELM, else the one hack/helm.sh builds (once) from the module proxy.
// The specs that need it skip, saying why, when neither is available.
func helmBinary() string {
	GinkgoHelper()
	helmOnce.Do(func() {
		if p := os.Getenv("HELM"); p != "" {
			helmPath = p
			return
		}
		cmd := exec.Command(filepath.Join(repoRoot, "hack", "helm.sh"))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			helmErr = errors.New(err.Error() + ": " + lastLines(stderr.String(), 15))
			return
		}
		helmPath = strings.TrimSpace(string(out))
	})
	if helmErr != nil {
		Skip("no helm: hack/helm.sh could not build it from the module proxy (" + helmErr.Error() + "); set HELM to a helm binary")
	}
	return helmPath
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// runHelm runs helm with args and returns its stdout and stderr.
func runHelm(args ...string) (string, string, error) {
	GinkgoHelper()
	cmd := exec.Command(helmBinary(), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// monitoringCRDs tells helm template that the cluster has the Prometheus Operator's CRDs.
var monitoringCRDs = []string{"--api-versions", "monitoring.coreos.com/v1/ServiceMonitor", "--api-versions", "monitoring.coreos.com/v1/PrometheusRule"}

// render runs helm template on the chart, for a cluster with the Prometheus Operator's CRDs, and
// returns the objects (without the CRDs of crds/).
func render(release string, args ...string) []*unstructured.Unstructured {
	GinkgoHelper()
	return renderFor(release, append(monitoringCRDs, args...)...)
}

// renderFor runs helm template with args alone: a cluster without the Prometheus Operator's CRDs
// unless args say otherwise.
func renderFor(release string, args ...string) []*unstructured.Unstructured {
	GinkgoHelper()
	stdout, stderr, err := runHelm(append([]string{"template", release, chartDir, "--namespace", releaseNamespace}, args...)...)
	Expect(err).NotTo(HaveOccurred(), "helm template %v: %s", args, stderr)
	return testenv.DecodeObjects([]byte(stdout))
}

// renderKustomize runs `kubectl kustomize config/default`, skipping when kubectl is missing.
func renderKustomize() []*unstructured.Unstructured {
	GinkgoHelper()
	return kustomize("default")
}

// kustomize runs `kubectl kustomize config/<dir>`, skipping when kubectl is missing.
func kustomize(dir string) []*unstructured.Unstructured {
	GinkgoHelper()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		Skip("kubectl is not on PATH; it renders config/" + dir)
	}
	cmd := exec.Command(kubectl, "kustomize", filepath.Join(repoRoot, "config", dir))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	Expect(err).NotTo(HaveOccurred(), "kubectl kustomize config/%s: %s", dir, stderr.String())
	return testenv.DecodeObjects(out)
}

type objectKey struct{ Kind, Namespace, Name string }

func keyOf(o *unstructured.Unstructured) objectKey {
	return objectKey{o.GetKind(), o.GetNamespace(), o.GetName()}
}

// byKey indexes objects by kind, namespace and name.
func byKey(objs []*unstructured.Unstructured) map[objectKey]*unstructured.Unstructured {
	m := map[objectKey]*unstructured.Unstructured{}
	for _, o := range objs {
		m[keyOf(o)] = o
	}
	return m
}

func ofKind(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

func onlyOfKind(objs []*unstructured.Unstructured, kind string) *unstructured.Unstructured {
	GinkgoHelper()
	found := ofKind(objs, kind)
	Expect(found).To(HaveLen(1), "expected exactly one %s", kind)
	return found[0]
}

// field returns the value at path, failing when it is missing.
func field(o *unstructured.Unstructured, path ...string) any {
	GinkgoHelper()
	v, found, err := unstructured.NestedFieldNoCopy(o.Object, path...)
	Expect(err).NotTo(HaveOccurred())
	Expect(found).To(BeTrue(), "%s %s has no %s", o.GetKind(), o.GetName(), strings.Join(path, "."))
	return v
}

// manager returns the manager container of a Deployment.
func manager(deployment *unstructured.Unstructured) map[string]any {
	GinkgoHelper()
	containers := field(deployment, "spec", "template", "spec", "containers").([]any)
	Expect(containers).To(HaveLen(1))
	c := containers[0].(map[string]any)
	Expect(c["name"]).To(Equal("manager"))
	return c
}

func args(deployment *unstructured.Unstructured) []string {
	GinkgoHelper()
	var out []string
	for _, a := range manager(deployment)["args"].([]any) {
		out = append(out, a.(string))
	}
	return out
}

var _ = Describe("helm lint and helm template", Ordered, func() {
	var defaults []*unstructured.Unstructured

	BeforeAll(func() {
		defaults = render(releaseName)
	})

	DescribeTable("lint the chart without a finding",
		func(extra ...string) {
			stdout, stderr, err := runHelm(append([]string{"lint", "--strict", chartDir, "--namespace", releaseNamespace}, extra...)...)
			Expect(err).NotTo(HaveOccurred(), "helm lint:\n%s\n%s", stdout, stderr)
			Expect(stdout).To(ContainSubstring("0 chart(s) failed"))
			Expect(stdout).NotTo(ContainSubstring("[WARNING]"))
		},
		Entry("with the default values"),
		Entry("with the override values", "--values", overrideValues),
		Entry("with monitoring enabled", "--set", "serviceMonitor.enabled=true,prometheusRule.enabled=true,metrics.certSecret=lmo-operator-metrics-cert"),
		Entry("with monitoring that skips certificate verification", "--set", "serviceMonitor.enabled=true,serviceMonitor.insecureSkipVerify=true"),
		Entry("with metrics over plain http", "--set", "metrics.secure=false,serviceMonitor.enabled=true"),
	)

	Context("with the default values", func() {
		It("renders the objects config/default and config/admission render, by kind, namespace and name", func() {
			var want []objectKey
			for _, o := range append(renderKustomize(), kustomize("admission")...) {
				// The chart installs into the release namespace rather than creating it, and Helm installs
				// the CRDs from crds/ (compared with config/crd/bases by the static specs).
				if o.GetKind() != "Namespace" && o.GetKind() != "CustomResourceDefinition" {
					want = append(want, keyOf(o))
				}
			}
			var got []objectKey
			for _, o := range defaults {
				got = append(got, keyOf(o))
			}
			Expect(got).To(ConsistOf(want))
		})

		It("grants exactly the RBAC of config/rbac", func() {
			kustomized := byKey(renderKustomize())
			for _, kind := range []string{"Role", "ClusterRole"} {
				for _, o := range ofKind(defaults, kind) {
					Expect(field(o, "rules")).To(Equal(field(kustomized[keyOf(o)], "rules")), "rules of %s %s", kind, o.GetName())
				}
			}
			for _, kind := range []string{"RoleBinding", "ClusterRoleBinding"} {
				for _, o := range ofKind(defaults, kind) {
					want := kustomized[keyOf(o)]
					Expect(field(o, "roleRef")).To(Equal(field(want, "roleRef")), "roleRef of %s %s", kind, o.GetName())
					Expect(field(o, "subjects")).To(Equal(field(want, "subjects")), "subjects of %s %s", kind, o.GetName())
				}
			}
			for _, kind := range []string{"ClusterRole", "Role"} {
				for _, o := range ofKind(defaults, kind) {
					for k, v := range kustomized[keyOf(o)].GetLabels() {
						if strings.HasPrefix(k, "rbac.authorization.k8s.io/") {
							Expect(o.GetLabels()).To(HaveKeyWithValue(k, v), "aggregation label of %s %s", kind, o.GetName())
						}
					}
				}
			}
		})

		It("runs the manager as config/default does: same image, security contexts, resources, probes, volumes", func() {
			got := onlyOfKind(defaults, "Deployment")
			want := onlyOfKind(renderKustomize(), "Deployment")
			for _, path := range [][]string{
				{"spec", "replicas"},
				{"spec", "template", "spec", "securityContext"},
				{"spec", "template", "spec", "serviceAccountName"},
				{"spec", "template", "spec", "automountServiceAccountToken"},
				{"spec", "template", "spec", "terminationGracePeriodSeconds"},
				{"spec", "template", "spec", "volumes"},
			} {
				Expect(field(got, path...)).To(Equal(field(want, path...)), strings.Join(path, "."))
			}
			gotC, wantC := manager(got), manager(want)
			for _, k := range []string{"image", "command", "ports", "securityContext", "resources", "livenessProbe", "readinessProbe", "volumeMounts"} {
				Expect(gotC[k]).To(Equal(wantC[k]), "container %s", k)
			}
			Expect(args(got)).To(ContainElements(args(want)))
			Expect(args(got)).To(ContainElement("--metrics-secure=true"))
			Expect(field(got, "spec", "template", "metadata", "labels")).To(HaveKeyWithValue("control-plane", "controller-manager"))
		})

		It("serves metrics on the port config/default does, selecting only the manager's Pods", func() {
			got := onlyOfKind(defaults, "Service")
			want := onlyOfKind(renderKustomize(), "Service")
			Expect(field(got, "spec", "ports")).To(Equal(field(want, "spec", "ports")))
			Expect(field(got, "spec", "selector")).To(Equal(field(onlyOfKind(defaults, "Deployment"), "spec", "selector", "matchLabels")))
		})

		It("installs no ServiceMonitor and no PrometheusRule", func() {
			Expect(ofKind(defaults, "ServiceMonitor")).To(BeEmpty())
			Expect(ofKind(defaults, "PrometheusRule")).To(BeEmpty())
		})
	})

	Context("with the override values", func() {
		var objs []*unstructured.Unstructured

		BeforeAll(func() {
			objs = render("licensing", "--values", overrideValues)
		})

		It("watches the two namespaces asked for", func() {
			Expect(args(onlyOfKind(objs, "Deployment"))).To(ContainElement("--watch-namespaces=team-a,team-b"))
		})

		It("runs the custom image without leader election", func() {
			deployment := onlyOfKind(objs, "Deployment")
			Expect(deployment.GetName()).To(Equal("licensing-lmo-operator-controller-manager"))
			c := manager(deployment)
			Expect(c["image"]).To(Equal("registry.example.com/platform/lmo-operator:v9.9.9-test"))
			Expect(c["imagePullPolicy"]).To(Equal("Always"))
			Expect(args(deployment)).NotTo(ContainElement(HavePrefix("--leader-elect")))
			Expect(args(deployment)).To(ContainElements("--metrics-bind-address=:9443", "--zap-log-level=debug"))
			Expect(ofKind(objs, "Role")).To(BeEmpty(), "no leader-election Role without leader election")
			Expect(ofKind(objs, "RoleBinding")).To(BeEmpty())
		})

		It("applies the resources, scheduling and pull secrets asked for, keeping the security contexts", func() {
			deployment := onlyOfKind(objs, "Deployment")
			c := manager(deployment)
			Expect(c["resources"]).To(Equal(map[string]any{
				"requests": map[string]any{"cpu": "100m", "memory": "256Mi"},
				"limits":   map[string]any{"cpu": "2", "memory": "256Mi"},
			}))
			Expect(field(deployment, "spec", "template", "spec", "nodeSelector")).To(Equal(map[string]any{"kubernetes.io/os": "linux"}))
			Expect(field(deployment, "spec", "template", "spec", "tolerations")).To(HaveLen(1))
			Expect(field(deployment, "spec", "template", "spec", "affinity", "nodeAffinity")).NotTo(BeNil())
			Expect(field(deployment, "spec", "template", "spec", "imagePullSecrets")).To(Equal([]any{map[string]any{"name": "registry-credentials"}}))
			Expect(field(deployment, "spec", "template", "metadata", "annotations")).To(HaveKeyWithValue("example.com/team", "licensing"))
			Expect(c["securityContext"]).To(Equal(manager(onlyOfKind(defaults, "Deployment"))["securityContext"]))
			Expect(field(onlyOfKind(objs, "Service"), "spec", "ports")).To(Equal([]any{map[string]any{
				"name": "https", "port": float64(9443), "protocol": "TCP", "targetPort": "metrics",
			}}))
		})
	})

	It("installs the admission policies of config/admission, with the allowed hosts and the approver groups", func() {
		want := byKey(kustomize("admission"))
		got := byKey(render(releaseName))
		for key, o := range want {
			if o.GetKind() == "ConfigMap" {
				continue
			}
			Expect(got).To(HaveKey(key))
			Expect(field(got[key], "spec")).To(Equal(field(o, "spec")), "spec of %s %s", key.Kind, key.Name)
		}
		objs := render(releaseName, "--set", "admissionPolicies.approvers.enabled=true,admissionPolicies.approvers.groups={desk-leads,finance}",
			"--set", "allowedLMOHosts={sf-gateway.internal.example}")
		params := byKey(objs)[objectKey{"ConfigMap", releaseNamespace, "lmo-operator-admission"}]
		Expect(params).NotTo(BeNil())
		Expect(field(params, "data")).To(Equal(map[string]any{"allowedHosts": "sf-gateway.internal.example", "approverGroups": "desk-leads,finance"}))
		approvers := byKey(objs)[objectKey{"ValidatingAdmissionPolicyBinding", "", "lmo-operator-access-reduction-approvers"}]
		Expect(approvers).NotTo(BeNil())
		Expect(field(approvers, "spec", "paramRef")).To(HaveKeyWithValue("name", "lmo-operator-admission"))
		Expect(field(approvers, "spec", "paramRef")).To(HaveKeyWithValue("namespace", releaseNamespace))

		none := render(releaseName, "--set", "admissionPolicies.salesforceHosts=false")
		Expect(ofKind(none, "ValidatingAdmissionPolicy")).To(BeEmpty())
		Expect(byKey(none)).NotTo(HaveKey(objectKey{"ConfigMap", releaseNamespace, "lmo-operator-admission"}))
	})

	It("binds its admission policies to the watched namespaces only, so that releases serving other namespaces judge their own", func() {
		// Unscoped, every release's policies judge every namespace: a host that one release allows
		// would be refused by the other release's policy, and an approver would need both releases' groups.
		objs := render("lmo-east", "--set", "watchNamespaces={east,east-2},allowedLMOHosts={sfgw.east.example}",
			"--set", "admissionPolicies.approvers.enabled=true")
		bindings := ofKind(objs, "ValidatingAdmissionPolicyBinding")
		Expect(bindings).To(HaveLen(2))
		for _, b := range bindings {
			Expect(field(b, "spec", "matchResources")).To(Equal(map[string]any{"namespaceSelector": map[string]any{"matchExpressions": []any{
				map[string]any{"key": "kubernetes.io/metadata.name", "operator": "In", "values": []any{"east", "east-2"}},
			}}}), "binding %s", b.GetName())
		}
		for _, b := range ofKind(defaults, "ValidatingAdmissionPolicyBinding") {
			_, scoped, _ := unstructured.NestedFieldNoCopy(b.Object, "spec", "matchResources")
			Expect(scoped).To(BeFalse(), "binding %s of a release that watches every namespace", b.GetName())
		}
	})

	It("installs the Grafana dashboard of config/prometheus for the sidecar when asked", func() {
		Expect(ofKind(render(releaseName), "ConfigMap")).NotTo(ContainElement(WithTransform(func(o *unstructured.Unstructured) string { return o.GetName() }, Equal("lmo-operator-dashboard"))))
		objs := render(releaseName, "--set", "grafanaDashboard.enabled=true,grafanaDashboard.namespace=monitoring")
		cm := byKey(objs)[objectKey{"ConfigMap", "monitoring", "lmo-operator-dashboard"}]
		Expect(cm).NotTo(BeNil())
		Expect(cm.GetLabels()).To(HaveKeyWithValue("grafana_dashboard", "1"))
		data := field(cm, "data").(map[string]any)
		Expect(data).To(HaveKey("lmo-operator.json"))
		Expect(asJSON([]byte(data["lmo-operator.json"].(string)))).To(Equal(asJSON(readFile(filepath.Join(repoRoot, "config", "prometheus", "grafana-dashboard.json")))))
	})

	It("issues with config/certmanager the certificate the manager serves and the ServiceMonitor trusts", func() {
		cert := onlyOfKind(kustomize("certmanager"), "Certificate")
		secret := field(cert, "spec", "secretName").(string)
		service := onlyOfKind(renderKustomize(), "Service")
		Expect(field(cert, "spec", "dnsNames")).To(ContainElement(service.GetName() + "." + service.GetNamespace() + ".svc"))

		var patch []map[string]any
		Expect(yaml.Unmarshal(readFile(filepath.Join(repoRoot, "config", "default", "manager_metrics_cert_patch.yaml")), &patch)).To(Succeed())
		mounted := ""
		for _, op := range patch {
			if v, ok := op["value"].(map[string]any); ok && v["secret"] != nil {
				mounted = v["secret"].(map[string]any)["secretName"].(string)
			}
		}
		Expect(mounted).To(Equal(secret), "the manager mounts another Secret than the one cert-manager writes")

		monitor := onlyOfKind(kustomize("prometheus"), "ServiceMonitor")
		tlsConfig := field(monitor, "spec", "endpoints").([]any)[0].(map[string]any)["tlsConfig"].(map[string]any)
		Expect(tlsConfig["ca"]).To(HaveKeyWithValue("secret", HaveKeyWithValue("name", secret)))
		Expect(field(cert, "spec", "dnsNames")).To(ContainElement(tlsConfig["serverName"]))
	})

	It("watches every namespace unless told otherwise", func() {
		Expect(args(onlyOfKind(defaults, "Deployment"))).NotTo(ContainElement(HavePrefix("--watch-namespaces")))
	})

	It("reads Secrets only in the watched namespaces when rbac.namespacedSecrets is on", func() {
		objs := render(releaseName, "--set", "rbac.namespacedSecrets=true,watchNamespaces={team-a,team-b}")
		for _, cr := range ofKind(objs, "ClusterRole") {
			rules, _ := field(cr, "rules").([]any)
			for _, r := range rules {
				resources, _ := r.(map[string]any)["resources"].([]any)
				Expect(resources).NotTo(ContainElement("secrets"), "ClusterRole %s grants Secrets", cr.GetName())
			}
		}
		readers := map[string]bool{}
		for _, role := range ofKind(objs, "Role") {
			rules, _ := field(role, "rules").([]any)
			for _, r := range rules {
				rule := r.(map[string]any)
				if slices.Contains(rule["resources"].([]any), any("secrets")) {
					Expect(rule["verbs"]).To(Equal([]any{"get"}), "Role %s/%s", role.GetNamespace(), role.GetName())
					readers[role.GetNamespace()] = true
				}
			}
		}
		Expect(readers).To(Equal(map[string]bool{"team-a": true, "team-b": true}))
		bound := map[string]bool{}
		for _, rb := range ofKind(objs, "RoleBinding") {
			if field(rb, "roleRef", "name") == "lmo-operator-secret-reader" {
				subject := field(rb, "subjects").([]any)[0].(map[string]any)
				Expect(subject["namespace"]).To(Equal(releaseNamespace))
				bound[rb.GetNamespace()] = true
			}
		}
		Expect(bound).To(Equal(map[string]bool{"team-a": true, "team-b": true}))
	})

	It("refuses namespaced Secret access without watched namespaces", func() {
		_, stderr, err := runHelm("template", releaseName, chartDir, "--set", "rbac.namespacedSecrets=true")
		Expect(err).To(HaveOccurred())
		Expect(stderr).To(ContainSubstring("needs watchNamespaces"))
	})

	It("refuses an unknown value, naming it", func() {
		_, stderr, err := runHelm("template", releaseName, chartDir, "--set", "metrics.prot=9443")
		Expect(err).To(HaveOccurred())
		Expect(stderr).To(ContainSubstring("prot"))
	})

	It("passes a proxy, a CA bundle and allowed hosts to the manager", func() {
		objs := render(releaseName,
			"--set-json", `extraEnv=[{"name":"HTTPS_PROXY","value":"http://proxy.example:3128"}]`,
			"--set-json", `extraVolumes=[{"name":"ca","configMap":{"name":"corp-ca"}}]`,
			"--set-json", `extraVolumeMounts=[{"name":"ca","mountPath":"/etc/ssl/corp","readOnly":true}]`,
			"--set", "allowedLMOHosts={sfgw.corp.example}")
		deployment := onlyOfKind(objs, "Deployment")
		c := manager(deployment)
		Expect(c["env"]).To(ContainElement(map[string]any{"name": "HTTPS_PROXY", "value": "http://proxy.example:3128"}))
		Expect(c["volumeMounts"]).To(ContainElement(map[string]any{"name": "ca", "mountPath": "/etc/ssl/corp", "readOnly": true}))
		Expect(field(deployment, "spec", "template", "spec", "volumes")).To(ContainElement(map[string]any{"name": "ca", "configMap": map[string]any{"name": "corp-ca"}}))
		Expect(args(deployment)).To(ContainElement("--allowed-lmo-host=sfgw.corp.example"))
	})

	It("installs a PodDisruptionBudget and spreads replicas when asked, and refuses a budget for one replica", func() {
		objs := render(releaseName, "--set", "replicaCount=2,podDisruptionBudget.enabled=true",
			"--set-json", `topologySpreadConstraints=[{"maxSkew":1,"topologyKey":"kubernetes.io/hostname","whenUnsatisfiable":"ScheduleAnyway"}]`)
		pdb := onlyOfKind(objs, "PodDisruptionBudget")
		Expect(field(pdb, "spec", "minAvailable")).To(BeNumerically("==", 1))
		Expect(field(pdb, "spec", "selector", "matchLabels")).To(Equal(field(onlyOfKind(objs, "Deployment"), "spec", "selector", "matchLabels")))
		Expect(field(onlyOfKind(objs, "Deployment"), "spec", "template", "spec", "topologySpreadConstraints")).To(HaveLen(1))
		Expect(ofKind(defaults, "PodDisruptionBudget")).To(BeEmpty())
		_, stderr, err := runHelm("template", releaseName, chartDir, "--set", "podDisruptionBudget.enabled=true")
		Expect(err).To(HaveOccurred())
		Expect(stderr).To(ContainSubstring("needs replicaCount > 1"))
	})

	It("leaves the team roles out of edit and view when asked", func() {
		objs := render(releaseName, "--set", "rbac.aggregateToEdit=false,rbac.aggregateToView=false")
		for _, cr := range ofKind(objs, "ClusterRole") {
			Expect(cr.GetLabels()).NotTo(HaveKey("rbac.authorization.k8s.io/aggregate-to-edit"), cr.GetName())
			Expect(cr.GetLabels()).NotTo(HaveKey("rbac.authorization.k8s.io/aggregate-to-view"), cr.GetName())
		}
	})

	It("refuses more than one replica without leader election", func() {
		_, stderr, err := runHelm("template", releaseName, chartDir, "--set", "replicaCount=2,leaderElection.enabled=false")
		Expect(err).To(HaveOccurred())
		Expect(stderr).To(ContainSubstring("needs leaderElection.enabled"))
	})

	It("gives each release its own leader-election Lease, keeping the manager's default for the default release", func() {
		// Two releases in one namespace that shared a Lease would elect one leader between them: the
		// second manager would wait for the first one's Lease forever and serve nothing.
		Expect(args(onlyOfKind(defaults, "Deployment"))).To(ContainElement("--leader-election-id=lmo-operator.lmo-operator.dev"))
		east := args(onlyOfKind(render("lmo-east", "--set", "watchNamespaces={east}"), "Deployment"))
		west := args(onlyOfKind(render("lmo-west", "--set", "watchNamespaces={west}"), "Deployment"))
		Expect(east).To(ContainElement("--leader-election-id=lmo-east-lmo-operator.lmo-operator.dev"))
		Expect(west).To(ContainElement("--leader-election-id=lmo-west-lmo-operator.lmo-operator.dev"))
		chosen := args(onlyOfKind(render("lmo-east", "--set", "leaderElection.id=east.example.com"), "Deployment"))
		Expect(chosen).To(ContainElement("--leader-election-id=east.example.com"))
	})

	It("drops the metrics endpoint, its Service and its RBAC when metrics are disabled", func() {
		objs := render(releaseName, "--set", "metrics.enabled=false")
		Expect(ofKind(objs, "Service")).To(BeEmpty())
		for _, o := range objs {
			Expect(o.GetName()).NotTo(ContainSubstring("metrics"))
		}
		deployment := onlyOfKind(objs, "Deployment")
		Expect(args(deployment)).To(ContainElement("--metrics-bind-address=0"))
		Expect(manager(deployment)["ports"]).To(HaveLen(1))
	})

	It("serves plain http metrics without the auth role when metrics.secure is off", func() {
		objs := render(releaseName, "--set", "metrics.secure=false,serviceMonitor.enabled=true")
		Expect(args(onlyOfKind(objs, "Deployment"))).To(ContainElement("--metrics-secure=false"))
		Expect(byKey(objs)).NotTo(HaveKey(objectKey{"ClusterRole", "", "lmo-operator-metrics-auth-role"}))
		Expect(field(onlyOfKind(objs, "Service"), "spec", "ports")).To(ContainElement(HaveKeyWithValue("name", "http")))
		endpoint := field(onlyOfKind(objs, "ServiceMonitor"), "spec", "endpoints").([]any)[0].(map[string]any)
		Expect(endpoint).To(HaveKeyWithValue("scheme", "http"))
		Expect(endpoint).To(HaveKeyWithValue("port", "http"))
	})

	It("installs the ServiceMonitor and the PrometheusRule when asked", func() {
		objs := render(releaseName, "--set", "serviceMonitor.enabled=true,prometheusRule.enabled=true,serviceMonitor.labels.release=prometheus,"+
			"metrics.certSecret=lmo-operator-metrics-cert")
		monitor := onlyOfKind(objs, "ServiceMonitor")
		Expect(monitor.GetLabels()).To(HaveKeyWithValue("release", "prometheus"))
		endpoint := field(monitor, "spec", "endpoints").([]any)[0].(map[string]any)
		Expect(endpoint).To(HaveKeyWithValue("scheme", "https"))
		Expect(endpoint).To(HaveKeyWithValue("port", "https"))
		Expect(field(monitor, "spec", "selector", "matchLabels")).To(Equal(field(onlyOfKind(objs, "Service"), "spec", "selector")))

		rule := onlyOfKind(objs, "PrometheusRule")
		want := asJSON(readFile(filepath.Join(chartDir, "files", "prometheus-rules.yaml"))).(map[string]any)["groups"]
		Expect(asJSON(mustJSON(field(rule, "spec", "groups")))).To(Equal(want))
		var alerts []string
		for _, g := range field(rule, "spec", "groups").([]any) {
			for _, r := range g.(map[string]any)["rules"].([]any) {
				alerts = append(alerts, r.(map[string]any)["alert"].(string))
			}
		}
		Expect(alerts).To(ContainElements("LMOAPIBudgetBelowReserve", "LMOUnreachable", "LMOLicensesDrifted", "LMOWritesFailing"))
	})

	It("verifies the metrics certificate against the trusted CA of the certificate Secret", func() {
		objs := render(releaseName, "--set", "serviceMonitor.enabled=true,metrics.certSecret=lmo-operator-metrics-cert")
		deployment := onlyOfKind(objs, "Deployment")
		Expect(args(deployment)).To(ContainElement("--metrics-cert-path=/etc/lmo-operator/metrics-certs"))
		Expect(manager(deployment)["volumeMounts"]).To(ContainElement(And(
			HaveKeyWithValue("mountPath", "/etc/lmo-operator/metrics-certs"), HaveKeyWithValue("readOnly", true))))
		Expect(field(deployment, "spec", "template", "spec", "volumes")).To(ContainElement(
			HaveKeyWithValue("secret", HaveKeyWithValue("secretName", "lmo-operator-metrics-cert"))))
		endpoint := field(onlyOfKind(objs, "ServiceMonitor"), "spec", "endpoints").([]any)[0].(map[string]any)
		tlsConfig := endpoint["tlsConfig"].(map[string]any)
		Expect(tlsConfig).NotTo(HaveKeyWithValue("insecureSkipVerify", true))
		Expect(tlsConfig).To(HaveKeyWithValue("ca", HaveKeyWithValue("secret", And(
			HaveKeyWithValue("name", "lmo-operator-metrics-cert"), HaveKeyWithValue("key", "ca.crt")))))
		service := onlyOfKind(objs, "Service")
		Expect(tlsConfig).To(HaveKeyWithValue("serverName", service.GetName()+"."+releaseNamespace+".svc"))
	})

	It("skips verifying the metrics certificate only when that is chosen", func() {
		_, stderr, err := runHelm("template", releaseName, chartDir, "--set", "serviceMonitor.enabled=true")
		Expect(err).To(HaveOccurred(), "a ServiceMonitor with neither a trusted certificate nor the explicit choice rendered")
		Expect(stderr).To(ContainSubstring("metrics.certSecret"))
		Expect(stderr).To(ContainSubstring("serviceMonitor.insecureSkipVerify"))

		objs := render(releaseName, "--set", "serviceMonitor.enabled=true,serviceMonitor.insecureSkipVerify=true")
		endpoint := field(onlyOfKind(objs, "ServiceMonitor"), "spec", "endpoints").([]any)[0].(map[string]any)
		Expect(endpoint["tlsConfig"]).To(HaveKeyWithValue("insecureSkipVerify", true))
		Expect(args(onlyOfKind(objs, "Deployment"))).NotTo(ContainElement(HavePrefix("--metrics-cert-path")))
	})

	It("renders no ServiceMonitor or PrometheusRule where the monitoring CRDs are absent, and says so", func() {
		set := "serviceMonitor.enabled=true,prometheusRule.enabled=true,metrics.certSecret=lmo-operator-metrics-cert"
		objs := renderFor(releaseName, "--set", set)
		Expect(ofKind(objs, "ServiceMonitor")).To(BeEmpty())
		Expect(ofKind(objs, "PrometheusRule")).To(BeEmpty())
		Expect(ofKind(render(releaseName, "--set", set), "ServiceMonitor")).To(HaveLen(1))
		notes, stderr, err := runHelm("install", releaseName, chartDir, "--namespace", releaseNamespace, "--dry-run=client", "--set", set)
		Expect(err).NotTo(HaveOccurred(), stderr)
		Expect(notes).To(ContainSubstring("no ServiceMonitor was installed"))
	})

	It("passes the scrape settings to the ServiceMonitor", func() {
		objs := render(releaseName, "--set", "serviceMonitor.enabled=true,metrics.certSecret=c,serviceMonitor.scrapeTimeout=20s,serviceMonitor.honorLabels=true",
			"--set-json", `serviceMonitor.metricRelabelings=[{"action":"drop","regex":"workqueue_.*","sourceLabels":["__name__"]}]`,
			"--set-json", `serviceMonitor.relabelings=[{"action":"replace","targetLabel":"cluster","replacement":"prod"}]`)
		endpoint := field(onlyOfKind(objs, "ServiceMonitor"), "spec", "endpoints").([]any)[0].(map[string]any)
		Expect(endpoint).To(HaveKeyWithValue("scrapeTimeout", "20s"))
		Expect(endpoint).To(HaveKeyWithValue("honorLabels", true))
		Expect(endpoint["metricRelabelings"]).To(ContainElement(HaveKeyWithValue("regex", "workqueue_.*")))
		Expect(endpoint["relabelings"]).To(ContainElement(HaveKeyWithValue("targetLabel", "cluster")))
		_, stderr, err := runHelm("template", releaseName, chartDir, "--set", "serviceMonitor.scrapeTimeout=soon")
		Expect(err).To(HaveOccurred())
		Expect(stderr).To(ContainSubstring("scrapeTimeout"))
	})

	It("refuses a ServiceMonitor without metrics", func() {
		_, stderr, err := runHelm("template", releaseName, chartDir, "--set", "metrics.enabled=false,serviceMonitor.enabled=true")
		Expect(err).To(HaveOccurred())
		Expect(stderr).To(ContainSubstring("serviceMonitor.enabled needs metrics.enabled"))
	})
})

func mustJSON(v any) []byte {
	GinkgoHelper()
	b, err := yaml.Marshal(v)
	Expect(err).NotTo(HaveOccurred())
	return b
}
