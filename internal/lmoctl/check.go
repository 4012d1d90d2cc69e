package lmoctl

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	appsv1 "k8s.io/api/apps/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
)

const checkSynopsis = `lmoctl check: check the cluster side of lmo-operator, as flux check does: the Kubernetes
version, the three CRDs (established, and every stored version still served), the manager
Deployments (each one, and that no two watch one namespace), and the Ready condition of every
LicenseManagementOrg. --pre checks only what an install
needs (the Kubernetes version). It only reads. lmoctl doctor checks the LMO side.

Exit status: 0 no check failed, 1 a check failed or the cluster could not be read.

Usage: lmoctl check [--pre] [--operator-namespace NS] [-o table|json] [--kubeconfig FILE] [--context NAME]`

const checkExample = `  lmoctl check --pre
  lmoctl check --operator-namespace lmo-operator-system -o json`

// minKubeMinor is the oldest Kubernetes minor the CRDs admit on: their validation rules use the CEL
// format library (format.date()), introduced in 1.31 and, like every CEL library, usable in newly
// written rules one minor later (the API server's compatibility version).
const minKubeMinor = 32

// VersionFunc returns the version of the cluster named by a kubeconfig file and context.
type VersionFunc func(kubeconfig, context string) (*version.Info, error)

// serverVersion asks the API server its version through discovery.
func serverVersion(kubeconfig, kubeContext string) (*version.Info, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubeContext}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("--kubeconfig: %w", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return dc.ServerVersion()
}

// The CRDs the operator serves, by name.
var operatorCRDs = []string{
	"licenses.licensing.lmo-operator.dev",
	"managedpackages.licensing.lmo-operator.dev",
	"licensemanagementorgs.licensing.lmo-operator.dev",
}

// checkOptions are check's flags.
type checkOptions struct {
	pre                                        bool
	output, kubeconfig, kubeContext, namespace string
}

// bindCheck registers check's flags.
func bindCheck(fs *pflag.FlagSet) func(context.Context, *Env) (int, error) {
	o := &checkOptions{}
	fs.BoolVar(&o.pre, "pre", false, "check only what installing the operator needs")
	fs.StringVar(&o.namespace, "operator-namespace", "lmo-operator-system", "namespace of the manager Deployment")
	fs.StringVarP(&o.output, "output", "o", "table", "output format: table or json")
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	fs.StringVar(&o.kubeContext, "context", "", "kubeconfig context (default: the current context)")
	return func(ctx context.Context, env *Env) (int, error) { return runCheck(ctx, o, env) }
}

func runCheck(ctx context.Context, o *checkOptions, env *Env) (int, error) {
	pre, output, kubeconfig, kubeContext, namespace := o.pre, o.output, o.kubeconfig, o.kubeContext, o.namespace
	format, err := outputFormat(output)
	if err != nil {
		return ExitError, err
	}
	d := &Doctor{}
	info, err := env.Version(kubeconfig, kubeContext)
	d.Checks = append(d.Checks, kubeVersionCheck(info, err))
	if !pre && err == nil {
		c, _, err := env.Kube(kubeconfig, kubeContext)
		if err != nil {
			return ExitError, err
		}
		d.Checks = append(d.Checks, clusterChecks(ctx, c, namespace)...)
	}
	d.count()
	if err := writeDoctor(env.Stdout, d, format); err != nil {
		return ExitError, err
	}
	if d.Summary.Fail > 0 {
		return ExitError, nil
	}
	return ExitOK, nil
}

// kubeVersionCheck passes from minKubeMinor on.
func kubeVersionCheck(info *version.Info, err error) Check {
	c := Check{Name: "Kubernetes version"}
	if err != nil {
		c.Result, c.Detail, c.Advice = CheckFail, "cannot read the server version: "+err.Error(), "check --kubeconfig and --context, and that the API server answers"
		return c
	}
	minor, convErr := strconv.Atoi(strings.TrimRight(info.Minor, "+"))
	c.Detail = info.GitVersion
	switch {
	case convErr != nil || info.Major != "1":
		c.Result, c.Advice = CheckWarn, "cannot tell the minor version; the CRDs need Kubernetes 1."+strconv.Itoa(minKubeMinor)+" or later"
	case minor < minKubeMinor:
		c.Result = CheckFail
		c.Advice = "the CRDs' validation rules need Kubernetes 1." + strconv.Itoa(minKubeMinor) + " or later (CEL format library); upgrade the cluster"
	default:
		c.Result = CheckPass
	}
	return c
}

// clusterChecks checks the CRDs, the manager Deployment and every LicenseManagementOrg.
func clusterChecks(ctx context.Context, c client.Reader, namespace string) []Check {
	var out []Check
	for _, name := range operatorCRDs {
		out = append(out, crdCheck(ctx, c, name))
	}
	out = append(out, managerChecks(ctx, c, namespace)...)
	return append(out, lmoChecks(ctx, c)...)
}

func crdCheck(ctx context.Context, c client.Reader, name string) Check {
	chk := Check{Name: "CRD " + name}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := c.Get(ctx, client.ObjectKey{Name: name}, &crd); err != nil {
		chk.Result, chk.Detail, chk.Advice = CheckFail, err.Error(), "install the CRDs: kubectl apply --server-side -k config/crd (or the chart's crds/)"
		return chk
	}
	established := false
	for _, cond := range crd.Status.Conditions {
		if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
			established = true
		}
	}
	var served []string
	for _, v := range crd.Spec.Versions {
		if v.Served {
			served = append(served, v.Name)
		}
	}
	var stale []string
	for _, v := range crd.Status.StoredVersions {
		if !slices.Contains(served, v) {
			stale = append(stale, v)
		}
	}
	chk.Detail = "served " + strings.Join(served, ", ") + "; stored " + strings.Join(crd.Status.StoredVersions, ", ")
	switch {
	case !established:
		chk.Result, chk.Advice = CheckFail, "the API server has not established the CRD; kubectl describe crd "+name
	case len(stale) > 0:
		chk.Result = CheckFail
		chk.Advice = "objects are stored as " + strings.Join(stale, ", ") + ", which the CRD no longer serves: migrate them and update status.storedVersions"
	default:
		chk.Result = CheckPass
	}
	return chk
}

// managerChecks finds the manager Deployments by their app.kubernetes.io/name label and checks each.
// Several are several chart releases, each serving the LMOs of its watched namespaces: then a last
// check fails when two of them watch one namespace, since both would serve its LMOs.
func managerChecks(ctx context.Context, c client.Reader, namespace string) []Check {
	var list appsv1.DeploymentList
	if err := c.List(ctx, &list, client.InNamespace(namespace), client.MatchingLabels{"app.kubernetes.io/name": "lmo-operator"}); err != nil {
		return []Check{{Name: "manager Deployment", Result: CheckFail, Detail: err.Error(),
			Advice: "grant get and list on deployments in " + namespace + ", or pass --operator-namespace"}}
	}
	switch len(list.Items) {
	case 0:
		return []Check{{Name: "manager Deployment", Result: CheckFail, Detail: "no Deployment labelled app.kubernetes.io/name=lmo-operator in namespace " + namespace,
			Advice: "install the operator (make deploy, or the Helm chart), or pass --operator-namespace"}}
	case 1:
		return []Check{deploymentCheck("manager Deployment", &list.Items[0])}
	}
	slices.SortFunc(list.Items, func(a, b appsv1.Deployment) int { return strings.Compare(a.Name, b.Name) })
	var out []Check
	for i := range list.Items {
		d := &list.Items[i]
		out = append(out, deploymentCheck("manager Deployment "+d.Namespace+"/"+d.Name, d))
	}
	return append(out, overlapCheck(list.Items))
}

// deploymentCheck checks that a manager Deployment's replicas are available.
func deploymentCheck(name string, d *appsv1.Deployment) Check {
	chk := Check{Name: name}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	chk.Detail = fmt.Sprintf("%s/%s: %d of %d replicas available", d.Namespace, d.Name, d.Status.AvailableReplicas, want)
	switch {
	case d.Status.AvailableReplicas == 0:
		chk.Result, chk.Advice = CheckFail, "kubectl -n "+d.Namespace+" describe deployment "+d.Name+" and the pod's logs say why it does not run"
	case d.Status.AvailableReplicas < want || d.Status.ObservedGeneration < d.Generation:
		chk.Result, chk.Advice = CheckWarn, "a rollout is under way or some replicas are unavailable"
	default:
		chk.Result = CheckPass
	}
	return chk
}

// overlapCheck fails when two manager Deployments watch one namespace (one that watches every
// namespace overlaps all others): both would run an engine for its LMOs and write each change twice.
func overlapCheck(deployments []appsv1.Deployment) Check {
	chk := Check{Name: "managers' namespaces"}
	var clashes []string
	for i := range deployments {
		for j := i + 1; j < len(deployments); j++ {
			a, b := watchedNamespaces(&deployments[i]), watchedNamespaces(&deployments[j])
			var shared []string
			switch {
			case a == nil && b == nil:
				shared = []string{"every namespace"}
			case a == nil:
				shared = b
			case b == nil:
				shared = a
			default:
				for _, ns := range a {
					if slices.Contains(b, ns) {
						shared = append(shared, ns)
					}
				}
			}
			if len(shared) > 0 {
				clashes = append(clashes, fmt.Sprintf("%s and %s both watch %s", deployments[i].Name, deployments[j].Name, strings.Join(shared, ", ")))
			}
		}
	}
	if len(clashes) == 0 {
		chk.Result, chk.Detail = CheckPass, fmt.Sprintf("%d managers, each watching its own namespaces", len(deployments))
		return chk
	}
	chk.Result, chk.Detail = CheckFail, strings.Join(clashes, "; ")
	chk.Advice = "each LMO must be served by exactly one manager: give each release its own watchNamespaces, with no namespace in two"
	return chk
}

// watchedNamespaces reads the --watch-namespaces of a manager Deployment's manager container; nil
// means every namespace.
func watchedNamespaces(d *appsv1.Deployment) []string {
	containers := d.Spec.Template.Spec.Containers
	for _, c := range containers {
		if c.Name != "manager" && len(containers) > 1 {
			continue
		}
		args := append(slices.Clone(c.Command), c.Args...)
		var value string
		for i, a := range args {
			// Go's flag package takes one dash or two.
			a = strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
			if v, ok := strings.CutPrefix(a, "watch-namespaces="); ok {
				value = v
			} else if a == "watch-namespaces" && i+1 < len(args) {
				value = args[i+1]
			}
		}
		var out []string
		for _, ns := range strings.Split(value, ",") {
			if ns = strings.TrimSpace(ns); ns != "" {
				out = append(out, ns)
			}
		}
		return out
	}
	return nil
}

// lmoChecks reports the Ready condition of every LicenseManagementOrg: Stalled fails, not Ready
// yet warns.
func lmoChecks(ctx context.Context, c client.Reader) []Check {
	var list licensingv1alpha1.LicenseManagementOrgList
	if err := c.List(ctx, &list); err != nil {
		return []Check{{Name: "LicenseManagementOrgs", Result: CheckFail, Detail: err.Error(), Advice: "grant list on licensemanagementorgs"}}
	}
	if len(list.Items) == 0 {
		return []Check{{Name: "LicenseManagementOrgs", Result: CheckWarn, Detail: "none", Advice: "create one: see the README's Connecting a real LMO"}}
	}
	var out []Check
	for _, lmo := range list.Items {
		chk := Check{Name: "LicenseManagementOrg " + lmo.Namespace + "/" + lmo.Name}
		ready := meta.FindStatusCondition(lmo.Status.Conditions, licensingv1alpha1.ConditionReady)
		stalled := meta.FindStatusCondition(lmo.Status.Conditions, licensingv1alpha1.ConditionStalled)
		switch {
		case ready == nil:
			chk.Result, chk.Detail, chk.Advice = CheckWarn, "no Ready condition yet", "is the manager running? (see the manager Deployment check)"
		case ready.Status == metav1.ConditionTrue:
			chk.Result, chk.Detail = CheckPass, ready.Reason+": "+ready.Message
		case stalled != nil && stalled.Status == metav1.ConditionTrue:
			chk.Result, chk.Detail = CheckFail, stalled.Reason+": "+stalled.Message
			chk.Advice = "docs/troubleshooting.md, reason " + stalled.Reason
		default:
			chk.Result, chk.Detail = CheckWarn, ready.Reason+": "+ready.Message
			chk.Advice = "the operator is working on it; docs/troubleshooting.md, reason " + ready.Reason
		}
		out = append(out, chk)
	}
	return out
}
