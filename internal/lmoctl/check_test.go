package lmoctl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
)

func crd(name string, established bool, served []string, stored ...string) *apiextensionsv1.CustomResourceDefinition {
	c := &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: name}}
	for _, v := range served {
		c.Spec.Versions = append(c.Spec.Versions, apiextensionsv1.CustomResourceDefinitionVersion{Name: v, Served: true, Storage: true})
	}
	status := apiextensionsv1.ConditionFalse
	if established {
		status = apiextensionsv1.ConditionTrue
	}
	c.Status.Conditions = []apiextensionsv1.CustomResourceDefinitionCondition{{Type: apiextensionsv1.Established, Status: status}}
	c.Status.StoredVersions = stored
	return c
}

func manager(available int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "lmo-operator-system", Name: "lmo-operator-controller-manager",
			Labels: map[string]string{"app.kubernetes.io/name": "lmo-operator"}},
		Spec:   appsv1.DeploymentSpec{Replicas: ptr.To[int32](1)},
		Status: appsv1.DeploymentStatus{AvailableReplicas: available},
	}
}

func lmoWith(name string, conds ...metav1.Condition) *licensingv1alpha1.LicenseManagementOrg {
	l := lmoObject("https://acme.my.salesforce.com")
	l.Name = name
	l.Status.Conditions = conds
	return l
}

func runCheckWith(t *testing.T, minor string, versionErr error, objs []client.Object, args ...string) (int, *Doctor) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), append([]string{"check", "-o", "json"}, args...), Env{
		Stdout: &stdout, Stderr: &stderr, Now: func() time.Time { return today },
		Kube: fakeKube(t, objs...),
		Version: func(string, string) (*version.Info, error) {
			return &version.Info{Major: "1", Minor: minor, GitVersion: "v1." + minor + ".3"}, versionErr
		},
	})
	var d Doctor
	if err := json.Unmarshal(stdout.Bytes(), &d); err != nil {
		t.Fatalf("exit %d, stdout %q, stderr %q: %v", code, stdout.String(), stderr.String(), err)
	}
	return code, &d
}

func results(d *Doctor) map[string]string {
	out := map[string]string{}
	for _, c := range d.Checks {
		out[c.Name] = c.Result
		if c.Result != CheckPass && c.Advice == "" {
			out[c.Name] += " without advice"
		}
	}
	return out
}

func TestCheckAHealthyInstall(t *testing.T) {
	v := []string{"v1alpha1"}
	objs := []client.Object{
		crd("licenses.licensing.lmo-operator.dev", true, v, "v1alpha1"),
		crd("managedpackages.licensing.lmo-operator.dev", true, v, "v1alpha1"),
		crd("licensemanagementorgs.licensing.lmo-operator.dev", true, v, "v1alpha1"),
		manager(1),
		lmoWith("acme", metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Ready", Message: "Connected"}),
	}
	code, d := runCheckWith(t, "33", nil, objs)
	if code != ExitOK || d.Summary.Fail+d.Summary.Warn != 0 || len(d.Checks) != 6 {
		t.Errorf("exit %d, checks %v", code, results(d))
	}
}

func TestCheckNamesWhatIsWrong(t *testing.T) {
	v := []string{"v1alpha1"}
	objs := []client.Object{
		crd("licenses.licensing.lmo-operator.dev", true, v, "v1alpha1", "v1alpha0"),
		crd("managedpackages.licensing.lmo-operator.dev", false, v, "v1alpha1"),
		manager(0),
		lmoWith("stalled", metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse, Reason: "SecretNotFound"},
			metav1.Condition{Type: "Stalled", Status: metav1.ConditionTrue, Reason: "SecretNotFound", Message: "no Secret"}),
		lmoWith("loading", metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse, Reason: "MirrorLoading"}),
	}
	code, d := runCheckWith(t, "31", nil, objs)
	want := map[string]string{
		"Kubernetes version":                                   CheckFail,
		"CRD licenses.licensing.lmo-operator.dev":              CheckFail,
		"CRD managedpackages.licensing.lmo-operator.dev":       CheckFail,
		"CRD licensemanagementorgs.licensing.lmo-operator.dev": CheckFail,
		"manager Deployment":                                   CheckFail,
		"LicenseManagementOrg licensing/stalled":               CheckFail,
		"LicenseManagementOrg licensing/loading":               CheckWarn,
	}
	got := results(d)
	for name, r := range want {
		if got[name] != r {
			t.Errorf("%s: %q, want %q", name, got[name], r)
		}
	}
	if code != ExitError {
		t.Errorf("exit %d, want 1", code)
	}
}

func TestCheckPreLooksOnlyAtTheVersion(t *testing.T) {
	code, d := runCheckWith(t, "32", nil, nil, "--pre")
	if code != ExitOK || len(d.Checks) != 1 || d.Checks[0].Result != CheckPass {
		t.Errorf("exit %d, checks %v", code, results(d))
	}
	code, d = runCheckWith(t, "30", nil, nil, "--pre")
	if code != ExitError || d.Checks[0].Result != CheckFail {
		t.Errorf("Kubernetes 1.30: exit %d, checks %v", code, results(d))
	}
	code, d = runCheckWith(t, "", errors.New("connection refused"), nil, "--pre")
	if code != ExitError || d.Checks[0].Result != CheckFail {
		t.Errorf("no API server: exit %d, checks %v", code, results(d))
	}
}

// releaseManager is the manager Deployment of a chart release that watches namespaces (every one when none).
func releaseManager(name string, namespaces ...string) *appsv1.Deployment {
	d := manager(1)
	d.Name = name + "-lmo-operator-controller-manager"
	args := []string{"--leader-elect"}
	if len(namespaces) > 0 {
		args = append(args, "--watch-namespaces="+strings.Join(namespaces, ","))
	}
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "manager", Args: args}}
	return d
}

func TestCheckEachManagerAndThatNoTwoServeOneNamespace(t *testing.T) {
	v := []string{"v1alpha1"}
	base := []client.Object{
		crd("licenses.licensing.lmo-operator.dev", true, v, "v1alpha1"),
		crd("managedpackages.licensing.lmo-operator.dev", true, v, "v1alpha1"),
		crd("licensemanagementorgs.licensing.lmo-operator.dev", true, v, "v1alpha1"),
	}
	broken := releaseManager("lmo-west", "west")
	broken.Status.AvailableReplicas = 0
	tests := []struct {
		name     string
		managers []client.Object
		want     map[string]string
	}{{
		name:     "two managers with disjoint namespaces pass, each checked",
		managers: []client.Object{releaseManager("lmo-east", "east", "east-2"), releaseManager("lmo-west", "west")},
		want: map[string]string{
			"manager Deployment lmo-operator-system/lmo-east-lmo-operator-controller-manager": CheckPass,
			"manager Deployment lmo-operator-system/lmo-west-lmo-operator-controller-manager": CheckPass,
			"managers' namespaces": CheckPass,
		},
	}, {
		name:     "a second manager that does not run fails, though the first one runs",
		managers: []client.Object{releaseManager("lmo-east", "east"), broken},
		want: map[string]string{
			"manager Deployment lmo-operator-system/lmo-east-lmo-operator-controller-manager": CheckPass,
			"manager Deployment lmo-operator-system/lmo-west-lmo-operator-controller-manager": CheckFail,
			"managers' namespaces": CheckPass,
		},
	}, {
		name:     "two managers that both watch a namespace fail",
		managers: []client.Object{releaseManager("lmo-east", "east", "shared"), releaseManager("lmo-west", "west", "shared")},
		want: map[string]string{
			"manager Deployment lmo-operator-system/lmo-east-lmo-operator-controller-manager": CheckPass,
			"manager Deployment lmo-operator-system/lmo-west-lmo-operator-controller-manager": CheckPass,
			"managers' namespaces": CheckFail,
		},
	}, {
		name:     "a manager that watches every namespace beside another fails",
		managers: []client.Object{releaseManager("lmo-east", "east"), releaseManager("lmo-all")},
		want: map[string]string{
			"manager Deployment lmo-operator-system/lmo-all-lmo-operator-controller-manager":  CheckPass,
			"manager Deployment lmo-operator-system/lmo-east-lmo-operator-controller-manager": CheckPass,
			"managers' namespaces": CheckFail,
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, d := runCheckWith(t, "33", nil, append(slices.Clone(base), tt.managers...))
			got := results(d)
			for name := range got {
				if strings.HasPrefix(name, "CRD ") || name == "Kubernetes version" || name == "LicenseManagementOrgs" {
					delete(got, name)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("checks (-want +got):\n%s", diff)
			}
		})
	}
}
