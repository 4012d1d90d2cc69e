package robustness_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
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

// The robustness suite runs the manager in-process against envtest and lmosim servers on loopback
// ports, and feeds it what a hostile or broken world would: corrupt LMO answers, broken Secrets, an
// LMO that does not answer, an untrusted certificate, a token endpoint that names another org, and
// references across namespaces. It checks what a user would see (conditions, Events, the LMO's
// records and call counts) and that no credential ever shows up in the logs (captured at debug
// level), Events, status or metrics.
//
//	KUBEBUILDER_ASSETS=$(hack/envtest.sh) go test -count=1 ./test/robustness/   # about 2 minutes
//	LMO_ROBUSTNESS_LOG=/tmp/manager.log …                                       # keep the manager's log
//	go test -run '^$' -fuzz FuzzDesiredTerms ./test/robustness/                  # fuzz the spec parsing

var (
	k8sClient client.Client // reads the API server directly, not the manager's cache
	ctx       context.Context
	cancel    context.CancelFunc

	// logs captures everything the manager (and client-go, through klog) logs, at debug level.
	logs testenv.LockedBuffer
	// managerErr receives the manager's exit; it stays empty while the manager runs.
	managerErr <-chan error
	// canaryEnv is a healthy LMO in its own namespace: while another namespace suffers, it must keep
	// being reconciled.
	canaryEnv   *env
	canarySeats = 60
)

func TestRobustness(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Robustness suite")
}

var _ = BeforeSuite(func() {
	// Debug level (V(10) and below), development mode: the most a user could turn on.
	logger := zap.New(zap.WriteTo(&logs), zap.UseDevMode(true), zap.Level(zapcore.Level(-10)))
	logf.SetLogger(logger)
	klog.SetLogger(logger)
	ctx, cancel = context.WithCancel(context.Background())
	cfg := testenv.StartControlPlane(GinkgoT(), true).Config
	DeferCleanup(func() { cancel() }) // stops the manager before the control plane stops
	scheme := testenv.Scheme()
	k8sClient = testenv.Client(GinkgoT(), cfg, scheme)
	var err error
	managerErr, err = testenv.StartManager(ctx, cfg, ctrl.Options{Scheme: scheme}, func(ctx context.Context, mgr ctrl.Manager) error {
		return controllers.SetupWithManager(ctx, mgr, controllers.Options{AllowInsecureLoopbackHTTP: true})
	})
	Expect(err).NotTo(HaveOccurred())

	// The canary: one healthy LMO and one License, in a namespace of its own.
	s := startSim(baseSeed(seedLicenses))
	canaryEnv = newEnv(s, "canary")
	canaryEnv.license("globex", func(l *licensingv1alpha1.License) {
		l.Spec.SubscriberOrgID = globex
		l.Spec.Seats = ptr.To(intstr.FromInt(canarySeats))
	})
	Eventually(func() float64 { return s.seats(lic1) }, eventually).Should(BeEquivalentTo(canarySeats))
})

var _ = AfterSuite(func() {
	// LMO_ROBUSTNESS_LOG=path keeps the manager's debug log (it holds the suite's throwaway secrets).
	if path := os.Getenv("LMO_ROBUSTNESS_LOG"); path != "" {
		Expect(os.WriteFile(path, []byte(logs.String()), 0o600)).To(Succeed())
	}
	// Whatever order the specs ran in, everything the whole suite produced is scanned once more.
	if k8sClient != nil {
		text, _ := logsUpTo(7)
		var evs corev1.EventList
		var lmos licensingv1alpha1.LicenseManagementOrgList
		var lics licensingv1alpha1.LicenseList
		Expect(k8sClient.List(ctx, &evs)).To(Succeed())
		Expect(k8sClient.List(ctx, &lmos)).To(Succeed())
		Expect(k8sClient.List(ctx, &lics)).To(Succeed())
		Expect(findLeaks("the suite's logs up to V(7)", text)).To(BeEmpty())
		Expect(findLeaks("the suite's Events", yamlOf(evs))).To(BeEmpty())
		Expect(findLeaks("the suite's LicenseManagementOrgs", yamlOf(lmos))).To(BeEmpty())
		Expect(findLeaks("the suite's Licenses", yamlOf(lics))).To(BeEmpty())
	}
})

// expectManagerRunning fails when the manager has exited, and proves it still reconciles: the
// canary License's seats are changed and must reach the canary LMO.
func expectManagerRunning() {
	GinkgoHelper()
	select {
	case err := <-managerErr:
		Fail(fmt.Sprintf("the manager exited: %v", err))
	default:
	}
	canarySeats++
	want := canarySeats
	var l licensingv1alpha1.License
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: canaryEnv.ns, Name: "globex"}, &l)).To(Succeed())
	patch := client.MergeFrom(l.DeepCopy())
	l.Spec.Seats = ptr.To(intstr.FromInt(want))
	Expect(k8sClient.Patch(ctx, &l, patch)).To(Succeed())
	Eventually(func() float64 { return canaryEnv.sim.seats(lic1) }, eventually).Should(BeEquivalentTo(want),
		"the manager no longer reconciles the healthy canary namespace")
}

const (
	packageID = testenv.PackageID
	globex    = "00D5g000004XyZ1AAA"
	initech   = "00D5g000004AbC2AAA"
	lic1      = "a0N000000000001AAA"
	lic2      = "a0N000000000002AAA"

	operatorID = testenv.OperatorClientID
	jwtUser    = "integration@acme.example"

	eventually = 20 * time.Second
)

var seedLicenses = `
  - {id: a0N000000000001AAA, subscriberOrgID: 00D5g000004XyZ1AAA, packageID: 033000000000001AAA, status: Active, seats: 50, expiration: "2027-06-30", usedLicenses: 12, featureParameters: {acme__MaxProjects: 20}}
  - {id: a0N000000000002AAA, subscriberOrgID: 00D5g000004AbC2AAA, packageID: 033000000000001AAA, status: Active, seats: 10, expiration: "2027-01-31", usedLicenses: 8}
`

// Every sim accepts the operator with a per-suite random client secret and with the JWT key below;
// the admin client is the test's own "person in the LMO".
var (
	operatorSecret        = "cs-" + randomHex(16)
	adminSecret           = "admin-" + randomHex(16)
	jwtKeyPEM, jwtCertPEM = newKeyPair()
)

// baseSeed is the Acme LMO with the suite's secrets, the JWT certificate, and the licenses given.
func baseSeed(licenses string) string {
	return testenv.Seed{OperatorSecret: operatorSecret, OperatorCertificate: string(jwtCertPEM), AdminSecret: adminSecret,
		FeatureParameters: []string{testenv.MaxProjects, testenv.ActiveUsers}, Licenses: licenses}.YAML()
}

// sim is one lmosim server behind a recording front: every access token and JWT assertion that
// crosses the wire is added to the secrets the leak scan looks for.
type sim struct {
	*lmosim.Server
	url   string
	admin *salesforce.Client
	// rewrite, when set, edits token responses (to test instance_url pinning).
	rewrite func(map[string]any)
	mu      sync.Mutex
}

func startSim(seedYAML string) *sim {
	GinkgoHelper()
	seed, err := lmosim.ParseSeed([]byte(seedYAML))
	Expect(err).NotTo(HaveOccurred())
	srv, err := lmosim.New(seed, lmosim.Options{})
	Expect(err).NotTo(HaveOccurred())
	s := &sim{Server: srv}
	hs := httptest.NewServer(http.HandlerFunc(s.serve))
	DeferCleanup(hs.Close)
	s.url = hs.URL
	s.admin, err = testenv.AdminClient(ctx, s.url, adminSecret)
	Expect(err).NotTo(HaveOccurred())
	return s
}

// serve passes every request to lmosim; on the token endpoint it records the assertion sent and the
// token issued.
func (s *sim) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/services/oauth2/token" {
		s.Handler().ServeHTTP(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	if form, err := url.ParseQuery(string(body)); err == nil {
		secrets.add("JWT bearer assertion", form.Get("assertion"))
		secrets.add("client secret sent", form.Get("client_secret"))
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, r)
	out := rec.Body.Bytes()
	var tok map[string]any
	if json.Unmarshal(out, &tok) == nil {
		if t, _ := tok["access_token"].(string); t != "" {
			secrets.add("access token", t)
		}
		s.mu.Lock()
		rewrite := s.rewrite
		s.mu.Unlock()
		if rewrite != nil && rec.Code == http.StatusOK {
			rewrite(tok)
			out, _ = json.Marshal(tok)
		}
	}
	for k, v := range rec.Header() {
		if k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(out)
}

// seats reads a license's seats through lmosim's Go API: no REST call, so no fault fires and no
// call is counted.
func (s *sim) seats(id string) float64 {
	GinkgoHelper()
	l, ok := s.GetLicense(id)
	Expect(ok).To(BeTrue(), "no license "+id)
	return l.Seats
}

// edit changes a license as the person Dana Admin, through the REST API (a row PATCH).
func (s *sim) edit(id string, fields map[string]any) {
	GinkgoHelper()
	Expect(s.admin.PatchRecord(ctx, "sfLma__License__c", id, fields, time.Time{})).To(Succeed())
}

// writes counts every write call the LMO received.
func (s *sim) writes() int64 {
	st := s.Stats()
	return st.Calls["collectionsPatch"] + st.Calls["rowPatch"] + st.RecordsWritten
}

// env is a namespace with a credentials Secret, a LicenseManagementOrg "acme" pointing at a sim,
// and a ManagedPackage "acme-projects".
type env struct {
	ns  string
	sim *sim
}

var nsCounter int

// newEnv creates the namespace, the client-credentials Secret, the LicenseManagementOrg and the
// ManagedPackage; mutate may change the LMO before it is created.
func newEnv(s *sim, prefix string, mutate ...func(*licensingv1alpha1.LicenseManagementOrg)) *env {
	GinkgoHelper()
	ns := newNamespace(prefix)
	url := "http://127.0.0.1:1"
	if s != nil {
		url = s.url
	}
	lmo, err := testenv.CreateAcme(ctx, k8sClient, ns, url, operatorSecret, mutate...)
	if lmo != nil {
		DeferCleanup(func() { _ = k8sClient.Delete(ctx, lmo) })
	}
	Expect(err).NotTo(HaveOccurred())
	return &env{ns: ns, sim: s}
}

func newNamespace(prefix string) string {
	GinkgoHelper()
	nsCounter++
	ns := fmt.Sprintf("%s-%d", prefix, nsCounter)
	Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
	return ns
}

func createSecret(ns, name string, data map[string]string) {
	GinkgoHelper()
	Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: data})).To(Succeed())
}

// license creates a License in the env's namespace for the package "acme-projects".
func (e *env) license(name string, mutate func(*licensingv1alpha1.License)) {
	GinkgoHelper()
	l := &licensingv1alpha1.License{
		ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: name},
		Spec:       licensingv1alpha1.LicenseSpec{PackageRef: licensingv1alpha1.LocalObjectReference{Name: "acme-projects"}},
	}
	mutate(l)
	Expect(k8sClient.Create(ctx, l)).To(Succeed())
}

func (e *env) lmo() licensingv1alpha1.LicenseManagementOrg {
	GinkgoHelper()
	var lmo licensingv1alpha1.LicenseManagementOrg
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: "acme"}, &lmo)).To(Succeed())
	return lmo
}

func (e *env) get(name string) licensingv1alpha1.License {
	GinkgoHelper()
	var l licensingv1alpha1.License
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: name}, &l)).To(Succeed())
	return l
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newKeyPair returns an RSA private key (PKCS#1 PEM) and a self-signed certificate for it.
func newKeyPair() ([]byte, []byte) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "lmo-operator"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	secrets.addPEM("JWT private key", keyPEM)
	return keyPEM, certPEM
}

// secretSet is every credential the suite seeded or saw issued.
type secretSet struct {
	mu     sync.Mutex
	values map[string]string // value → what it is
}

var secrets = &secretSet{values: map[string]string{}}

func (s *secretSet) add(what, value string) {
	if len(value) < 8 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, seen := s.values[value]; !seen {
		s.values[value] = what
	}
}

// addPEM adds every base64 line of a PEM block: any one of them in a log is a leak.
func (s *secretSet) addPEM(what string, pemBytes []byte) {
	for _, line := range strings.Split(string(pemBytes), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "-----") || len(line) < 16 {
			continue
		}
		s.add(what+" (a PEM body line)", line)
	}
}

func (s *secretSet) snapshot() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.values))
	for k, v := range s.values {
		out[k] = v
	}
	return out
}
