package controllers_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/controllers"
	"github.com/lmo-operator/lmo-operator/internal/lmosim"
	"github.com/lmo-operator/lmo-operator/internal/salesforce"
)

// The controller suite runs the manager against a real kube-apiserver (envtest) and lmosim on a
// loopback port, and asserts on what a user would see: the LMO record read back through the REST
// API, the resources' conditions and reasons, Events, and the number of API calls.

var (
	testEnv   *envtest.Environment
	k8sClient client.Client // reads the API server directly, not the manager's cache
	// restConfig reaches the envtest API server, for specs that start a manager of their own.
	restConfig *rest.Config
	ctx        context.Context
	cancel     context.CancelFunc
	scheme     = runtime.NewScheme()
)

// managerLog keeps what the manager logged, for specs that check a log line.
var managerLog lockedBuffer

// lockedBuffer is a bytes.Buffer safe for the logger and a spec at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controller suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(io.MultiWriter(GinkgoWriter, &managerLog)), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(licensingv1alpha1.AddToScheme(scheme)).To(Succeed())

	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := testEnv.Start()
	Expect(err).NotTo(HaveOccurred())
	// Create objects as fast as `kubectl apply` of a directory would.
	cfg.QPS, cfg.Burst = 200, 400
	restConfig = cfg
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
	Expect(err).NotTo(HaveOccurred())
	Expect(controllers.SetupWithManager(ctx, mgr, controllers.Options{AllowInsecureLoopbackHTTP: true})).To(Succeed())
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
})

var _ = AfterSuite(func() {
	cancel()
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})

// sim is one lmosim server for one spec, with a REST client for the "person in the LMO".
type sim struct {
	*lmosim.Server
	url   string
	admin *salesforce.Client
}

const (
	packageID  = "033000000000001AAA"
	operatorID = "lmo-operator"
	operatorPW = "dev-secret-change-me"
)

// baseSeed is an LMO with one package, three feature parameters and the licenses given (YAML list
// items).
func baseSeed(licenses string, extra string) string {
	return `
organization: {id: 00D000000000001AAA, name: Acme ISV, edition: Enterprise Edition, isSandbox: false}
apiDailyLimit: 100000
clients:
  - {clientID: lmo-operator, clientSecret: dev-secret-change-me, username: integration@acme.example, name: Integration User}
  - {clientID: lmo-admin, clientSecret: admin-secret, username: dana.admin@acme.example, name: Dana Admin}
packages:
  - packageID: 033000000000001AAA
    name: Acme Projects
    latestVersion: "1.4.0"
    defaults: {status: Trial, trialDays: 30, seats: 10}
    featureParameters:
      - {fullName: acme__MaxProjects, dataType: Integer, direction: LMO to Subscriber}
      - {fullName: acme__AdvancedReporting, dataType: Boolean, direction: LMO to Subscriber}
      - {fullName: acme__ActiveUsers, dataType: Integer, direction: Subscriber to LMO}
licenses:
` + licenses + extra
}

func startSim(seedYAML string) *sim {
	seed, err := lmosim.ParseSeed([]byte(seedYAML))
	Expect(err).NotTo(HaveOccurred())
	srv, err := lmosim.New(seed, lmosim.Options{})
	Expect(err).NotTo(HaveOccurred())
	url, err := srv.Start("127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(srv.Close)
	admin, err := salesforce.New(ctx, salesforce.Config{InstanceURL: url,
		ClientCredentials: &salesforce.ClientCredentials{ClientID: "lmo-admin", ClientSecret: "admin-secret"}})
	Expect(err).NotTo(HaveOccurred())
	return &sim{Server: srv, url: url, admin: admin}
}

// record reads a license through the REST API, as another client would.
func (s *sim) record(id string) salesforce.License {
	var out []salesforce.License
	Expect(salesforce.Query(ctx, s.admin, "SELECT "+salesforce.LicenseFields+" FROM sfLma__License__c WHERE Id = '"+id+"'",
		func(p []salesforce.License) error { out = append(out, p...); return nil })).To(Succeed())
	Expect(out).To(HaveLen(1))
	return out[0]
}

// seats is the seats of a license record read through the REST API.
func (s *sim) seats(id string) float64 {
	r := s.record(id)
	if r.Seats == nil {
		return 0
	}
	return *r.Seats
}

// edit changes a license as the person Dana Admin, through the REST API.
func (s *sim) edit(id string, fields map[string]any) {
	Expect(s.admin.PatchRecord(ctx, "sfLma__License__c", id, fields, time.Time{})).To(Succeed())
}

// env is a namespace with a Secret, a LicenseManagementOrg pointing at a sim, and a ManagedPackage.
type env struct {
	ns  string
	sim *sim
}

var nsCounter int

func newEnv(s *sim, mutate ...func(*licensingv1alpha1.LicenseManagementOrg)) *env {
	nsCounter++
	ns := fmt.Sprintf("spec-%d-%d", GinkgoParallelProcess(), nsCounter)
	Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
	Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "lmo-client"},
		StringData: map[string]string{"client-id": operatorID, "client-secret": operatorPW}})).To(Succeed())
	lmo := &licensingv1alpha1.LicenseManagementOrg{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "acme"},
		Spec: licensingv1alpha1.LicenseManagementOrgSpec{
			InstanceURL:  s.url,
			Auth:         licensingv1alpha1.LMOAuth{ClientCredentials: &licensingv1alpha1.SecretAuth{SecretRef: licensingv1alpha1.LocalObjectReference{Name: "lmo-client"}}},
			PollInterval: &metav1.Duration{Duration: 10 * time.Second},
		},
	}
	for _, m := range mutate {
		m(lmo)
	}
	Expect(k8sClient.Create(ctx, lmo)).To(Succeed())
	pkg := &licensingv1alpha1.ManagedPackage{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "acme-projects"},
		Spec:       licensingv1alpha1.ManagedPackageSpec{LMORef: licensingv1alpha1.LocalObjectReference{Name: "acme"}, PackageID: packageID},
	}
	Expect(k8sClient.Create(ctx, pkg)).To(Succeed())
	e := &env{ns: ns, sim: s}
	DeferCleanup(func() {
		// Stop the engine before the sim closes, so it does not log connection errors.
		_ = k8sClient.Delete(ctx, lmo)
	})
	return e
}

// license creates a License for the env's package.
func (e *env) license(name string, mutate func(*licensingv1alpha1.License)) *licensingv1alpha1.License {
	l := &licensingv1alpha1.License{
		ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: name},
		Spec:       licensingv1alpha1.LicenseSpec{PackageRef: licensingv1alpha1.LocalObjectReference{Name: "acme-projects"}},
	}
	mutate(l)
	Expect(k8sClient.Create(ctx, l)).To(Succeed())
	return l
}

// get reads a License from the API server.
func (e *env) get(name string) *licensingv1alpha1.License {
	var l licensingv1alpha1.License
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: name}, &l)).To(Succeed())
	return &l
}

// condition returns the status and reason of a condition of a License.
func condition(conds []metav1.Condition, typ string) (metav1.ConditionStatus, string) {
	for _, c := range conds {
		if c.Type == typ {
			return c.Status, c.Reason
		}
	}
	return "", ""
}

// events lists the Events recorded about an object, as "type reason note".
func events(ns, name string) []string {
	var list eventsv1List
	Expect(k8sClient.List(ctx, &list.EventList, client.InNamespace(ns))).To(Succeed())
	var out []string
	for _, ev := range list.Items {
		if ev.InvolvedObject.Name == name {
			out = append(out, ev.Type+" "+ev.Reason+" "+ev.Message)
		}
	}
	return out
}
