// Package testenv is the harness every test suite shares: the envtest control plane with the CRDs
// installed, kubeconfigs for processes and kubectl, the manager in-process or as a process, lmosim
// in-process or as a process, the Acme seed, and the small helpers the suites assert with.
//
// The control plane is the one KUBEBUILDER_ASSETS names: the Makefile sets it from hack/envtest.sh,
// which builds kube-apiserver and etcd once and caches them under ~/.cache/lmo-operator.
//
// Only tests import this package. It does not import the controllers, so that the engine's own tests
// can use it; a suite passes controllers.SetupWithManager to StartManager.
package testenv

import (
	"os"
	"path/filepath"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
)

// TB is what the harness needs of a test: a *testing.T, or GinkgoT() inside a Ginkgo suite (where
// Cleanup is DeferCleanup: from BeforeSuite it runs when the suite ends).
type TB interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Cleanup(func())
	Failed() bool
}

// Root is the module root, where bin/, config/ and charts/ are: the first directory upwards from
// the test's working directory (its package directory) that holds go.mod.
var Root = sync.OnceValue(func() string {
	dir, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			panic("no go.mod above " + dir)
		}
	}
})

// Scheme is a scheme with the built-in kinds and the operator's.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := licensingv1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// ControlPlane is a kube-apiserver and etcd started by envtest.
type ControlPlane struct {
	Env *envtest.Environment
	// Config reaches the API server as its administrator.
	Config *rest.Config
}

// StartControlPlane starts a control plane, with the operator's CRDs (config/crd/bases) installed
// when withCRDs, and stops it when t ends.
func StartControlPlane(t TB, withCRDs bool) *ControlPlane {
	t.Helper()
	env := &envtest.Environment{}
	if withCRDs {
		env.CRDDirectoryPaths = []string{filepath.Join(Root(), "config", "crd", "bases")}
		env.ErrorIfCRDPathMissing = true
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting the control plane (KUBEBUILDER_ASSETS=%q; make sets it from hack/envtest.sh): %v", os.Getenv("KUBEBUILDER_ASSETS"), err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping the control plane: %v", err)
		}
	})
	return &ControlPlane{Env: env, Config: cfg}
}

// Client is a client of cfg that reads the API server directly, not a cache.
func Client(t TB, cfg *rest.Config, scheme *runtime.Scheme) client.Client {
	t.Helper()
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatalf("a client of the control plane: %v", err)
	}
	return c
}

// Kubeconfig writes a kubeconfig for a new cluster administrator (group system:masters) named user
// into dir and returns its path, for kubectl and the manager as a process.
func (cp *ControlPlane) Kubeconfig(t TB, user, dir string) string {
	t.Helper()
	u, err := cp.Env.AddUser(envtest.User{Name: user, Groups: []string{"system:masters"}}, cp.Config)
	if err != nil {
		t.Fatalf("adding the user %s: %v", user, err)
	}
	kc, err := u.KubeConfig()
	if err != nil {
		t.Fatalf("the kubeconfig of %s: %v", user, err)
	}
	path := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
	return path
}
