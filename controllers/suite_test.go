package controllers_test

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/controllers"
	"github.com/lmo-operator/lmo-operator/internal/lmosim"
	"github.com/lmo-operator/lmo-operator/internal/salesforce"
	"github.com/lmo-operator/lmo-operator/internal/testenv"
)

// The controller suite runs the manager against a real kube-apiserver (envtest) and lmosim on a
// loopback port, and asserts on what a user would see: the LMO record read back through the REST
// API, the resources' conditions and reasons, Events, and the number of API calls.

var (
	k8sClient client.Client // reads the API server directly, not the manager's cache
	// restConfig reaches the envtest API server, for specs that start a manager of their own.
	restConfig *rest.Config
	ctx        context.Context
	cancel     context.CancelFunc
	scheme     = testenv.Scheme()
	// managerLog keeps what the manager logged, for specs that check a log line.
	managerLog testenv.LockedBuffer
)

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controller suite")
}

// setup registers the operator's controllers as the suite's managers run them.
func setup(ctx context.Context, mgr ctrl.Manager) error {
	return controllers.SetupWithManager(ctx, mgr, controllers.Options{AllowInsecureLoopbackHTTP: true})
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(io.MultiWriter(GinkgoWriter, &managerLog)), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())
	DeferCleanup(func() { cancel() })
	cfg := testenv.StartControlPlane(GinkgoT(), true).Config
	// Create objects as fast as `kubectl apply` of a directory would.
	cfg.QPS, cfg.Burst = 200, 400
	restConfig = cfg
	k8sClient = testenv.Client(GinkgoT(), cfg, scheme)
	testenv.RunManager(ctx, cfg, ctrl.Options{Scheme: scheme}, setup)
})

// sim is one lmosim server for one spec, with a REST client for the "person in the LMO".
type sim struct {
	*lmosim.Server
	url   string
	admin *salesforce.Client
}

const (
	packageID  = testenv.PackageID
	operatorID = testenv.OperatorClientID
	operatorPW = testenv.OperatorSecret
)

// baseSeed is the Acme LMO (one package, three feature parameters) with the licenses given (YAML
// list items) and extra seed lines.
func baseSeed(licenses string, extra string) string {
	return testenv.Seed{Licenses: licenses + extra}.YAML()
}

func startSim(seedYAML string) *sim {
	srv, url := testenv.StartSim(GinkgoT(), seedYAML, lmosim.Options{})
	admin, err := testenv.AdminClient(ctx, url, testenv.AdminSecret)
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
	lmo, err := testenv.CreateAcme(ctx, k8sClient, ns, s.url, operatorPW, mutate...)
	Expect(err).NotTo(HaveOccurred())
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

// waitReady waits until the License's Ready condition is True.
func (e *env) waitReady(name string) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		st := testenv.Condition(e.get(name).Status.Conditions, "Ready").Status
		g.Expect(st).To(Equal(metav1.ConditionTrue))
	}, eventually).Should(Succeed())
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
