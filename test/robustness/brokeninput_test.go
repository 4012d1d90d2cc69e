package robustness_test

import (
	"net"
	"time"

	kstatus "github.com/fluxcd/cli-utils/pkg/kstatus/status"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/controllers"
	"github.com/lmo-operator/lmo-operator/internal/testenv"
)

// closedPort returns a loopback URL on which nothing listens.
func closedPort() string {
	GinkgoHelper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	addr := ln.Addr().String()
	Expect(ln.Close()).To(Succeed())
	return "http://" + addr
}

// needsWrite gives the env a License whose record needs a seats change (50 → 60), so that any write
// made would show in the sim's stats.
func needsWrite(e *env) {
	GinkgoHelper()
	e.license("globex", func(l *licensingv1alpha1.License) {
		l.Spec.SubscriberOrgID = globex
		l.Spec.Seats = ptr.To(intstr.FromInt(60))
	})
}

func useSecret(name string, jwt bool) func(*licensingv1alpha1.LicenseManagementOrg) {
	return func(l *licensingv1alpha1.LicenseManagementOrg) {
		secret := licensingv1alpha1.LocalObjectReference{Name: name}
		if jwt {
			l.Spec.Auth = licensingv1alpha1.LMOAuth{JWTBearer: &licensingv1alpha1.JWTBearerAuth{SecretRef: secret}}
			return
		}
		l.Spec.Auth = licensingv1alpha1.LMOAuth{ClientCredentials: &licensingv1alpha1.SecretAuth{SecretRef: secret}}
	}
}

// garbagePEM is PEM-shaped but holds no key; its body lines are registered as secrets.
func garbagePEM() []byte {
	body := "-----BEGIN RSA PRIVATE KEY-----\n"
	for i := 0; i < 4; i++ {
		body += "MII" + randomHex(30) + "Zz\n"
	}
	body += "-----END RSA PRIVATE KEY-----\n"
	secrets.addPEM("garbage private key", []byte(body))
	return []byte(body)
}

var _ = Describe("Broken Secrets, an LMO that does not answer, and references across namespaces", Ordered, ContinueOnFailure, func() {
	var (
		missingKey, badPEM, wrongClientID, wrongKey, noSecret, unreachable *env
		s                                                                  *sim
	)
	wrongKeyPEM, _ := newKeyPair() // a real RSA key the LMO does not know

	BeforeAll(func() {
		s = startSim(baseSeed(seedLicenses))

		missingKey = newEnv(s, "missing-key", useSecret("broken", false))
		createSecret(missingKey.ns, "broken", map[string]string{"client-id": operatorID})

		badPEM = newEnv(s, "bad-pem", useSecret("jwt", true))
		createSecret(badPEM.ns, "jwt", map[string]string{"client-id": operatorID, "username": jwtUser, "private-key": string(garbagePEM())})

		wrongClientID = newEnv(s, "wrong-client-id", useSecret("wrong", false))
		createSecret(wrongClientID.ns, "wrong", map[string]string{"client-id": "not-the-connected-app", "client-secret": operatorSecret})

		wrongKey = newEnv(s, "wrong-key", useSecret("jwt", true))
		createSecret(wrongKey.ns, "jwt", map[string]string{"client-id": operatorID, "username": jwtUser, "private-key": string(wrongKeyPEM)})

		noSecret = newEnv(s, "no-secret", useSecret("absent", false))
		unreachable = newEnv(nil, "unreachable", func(l *licensingv1alpha1.LicenseManagementOrg) { l.Spec.InstanceURL = closedPort() })

		for _, e := range []*env{missingKey, badPEM, wrongClientID, wrongKey, noSecret, unreachable} {
			needsWrite(e)
		}
		s.ResetStats()
	})

	expectLMO := func(e *env, authenticated metav1.ConditionStatus, reason string, stalled bool, messageHas ...string) {
		GinkgoHelper()
		Eventually(func(g Gomega) {
			lmo := e.lmo()
			auth := testenv.Condition(lmo.Status.Conditions, licensingv1alpha1.ConditionAuthenticated)
			ready := testenv.Condition(lmo.Status.Conditions, licensingv1alpha1.ConditionReady)
			g.Expect(auth.Status).To(Equal(authenticated))
			g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(ready.Reason).To(Equal(reason))
			// Stalled is present only while True.
			wantStalled := metav1.ConditionStatus("")
			if stalled {
				wantStalled = metav1.ConditionTrue
			}
			g.Expect(testenv.Condition(lmo.Status.Conditions, licensingv1alpha1.ConditionStalled).Status).To(Equal(wantStalled))
			for _, m := range messageHas {
				g.Expect(ready.Message).To(ContainSubstring(m))
			}
			GinkgoWriter.Printf("%s: Authenticated %s %s; Ready %s: %s\n", e.ns, auth.Status, auth.Reason, ready.Reason, ready.Message)
		}, eventually).Should(Succeed())
		// The License that needs a change is not Ready. (When the Secret is unusable the engine is
		// stopped and the License says LMONotReady; when the engine runs but never loads, it gets no
		// condition at all: see the BUG spec below.)
		Consistently(func(g Gomega) {
			g.Expect(testenv.Condition(e.get("globex").Status.Conditions, licensingv1alpha1.ConditionReady).Status).NotTo(Equal(metav1.ConditionTrue))
		}, time.Second, 250*time.Millisecond).Should(Succeed())
	}
	expectLicenseWaits := func(e *env) {
		GinkgoHelper()
		Eventually(func(g Gomega) {
			ready := testenv.Condition(e.get("globex").Status.Conditions, licensingv1alpha1.ConditionReady)
			g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(ready.Reason).To(Equal(licensingv1alpha1.ReasonLMONotReady))
		}, eventually).Should(Succeed())
	}

	It("says the Secret is missing or invalid, without naming which of its keys", func() {
		expectLMO(missingKey, metav1.ConditionFalse, licensingv1alpha1.ReasonSecretInvalid, true, "is missing or invalid", missingKey.ns+"/broken")
		// Someone who may read status but not the Secret learns nothing about its keys.
		Expect(testenv.Condition(missingKey.lmo().Status.Conditions, licensingv1alpha1.ConditionReady).Message).NotTo(ContainSubstring(`"client-secret"`))
		Expect(testenv.Condition(missingKey.lmo().Status.Conditions, licensingv1alpha1.ConditionAuthenticated).Reason).To(Equal(licensingv1alpha1.ReasonSecretInvalid))
		expectLicenseWaits(missingKey)
	})

	It("refuses a private key that is not PEM-encoded RSA", func() {
		expectLMO(badPEM, metav1.ConditionFalse, licensingv1alpha1.ReasonSecretInvalid, true, "is missing or invalid", "private-key")
		Expect(testenv.Condition(badPEM.lmo().Status.Conditions, licensingv1alpha1.ConditionAuthenticated).Reason).To(Equal(licensingv1alpha1.ReasonSecretInvalid))
		Expect(testenv.Condition(badPEM.lmo().Status.Conditions, licensingv1alpha1.ConditionReady).Message).NotTo(ContainSubstring("MII"))
		expectLicenseWaits(badPEM)
	})

	It("reports a client id the LMO does not know as AuthenticationFailed", func() {
		expectLMO(wrongClientID, metav1.ConditionFalse, licensingv1alpha1.ReasonAuthenticationFailed, true, "invalid_client")
		Expect(testenv.Condition(wrongClientID.lmo().Status.Conditions, licensingv1alpha1.ConditionAuthenticated).Reason).To(Equal(licensingv1alpha1.ReasonAuthenticationFailed))
	})

	It("reports a JWT signed by a key the LMO does not know as AuthenticationFailed", func() {
		expectLMO(wrongKey, metav1.ConditionFalse, licensingv1alpha1.ReasonAuthenticationFailed, true, "invalid_grant")
	})

	It("says which Secret does not exist", func() {
		expectLMO(noSecret, metav1.ConditionFalse, licensingv1alpha1.ReasonSecretNotFound, true, "Secret "+noSecret.ns+"/absent does not exist")
		expectLicenseWaits(noSecret)
	})

	It("reports an LMO that does not answer as Unreachable and keeps trying", func() {
		expectLMO(unreachable, metav1.ConditionUnknown, licensingv1alpha1.ReasonUnreachable, false, "connection refused")
		lmo := unreachable.lmo()
		Expect(testenv.Condition(lmo.Status.Conditions, licensingv1alpha1.ConditionReconciling).Status).To(Equal(metav1.ConditionTrue))
		Expect(testenv.Condition(lmo.Status.Conditions, licensingv1alpha1.ConditionAuthenticated).Reason).To(Equal(licensingv1alpha1.ReasonUnreachable))
	})

	// A License whose LMO engine runs but cannot load (refused credentials, unreachable LMO) says
	// LMONotReady rather than showing no condition, which kstatus would read as Current.
	It("gives a License a condition when its LMO's engine runs but never loads", func() {
		for _, e := range []*env{wrongClientID, wrongKey, unreachable} {
			Eventually(func(g Gomega) {
				l := e.get("globex")
				ready := testenv.Condition(l.Status.Conditions, licensingv1alpha1.ConditionReady)
				g.Expect(ready.Status).To(Equal(metav1.ConditionFalse), e.ns)
				g.Expect(ready.Reason).To(BeElementOf(licensingv1alpha1.ReasonLMONotReady, licensingv1alpha1.ReasonMirrorLoading), e.ns)
				u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&l)
				g.Expect(err).NotTo(HaveOccurred())
				res, err := kstatus.Compute(&unstructured.Unstructured{Object: u})
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(res.Status).NotTo(Equal(kstatus.CurrentStatus), e.ns)
			}, eventually).Should(Succeed())
		}
	})

	It("recovers once the Secret is fixed", func() {
		createSecret(noSecret.ns, "absent", map[string]string{"client-id": operatorID, "client-secret": operatorSecret})
		Eventually(func(g Gomega) {
			g.Expect(testenv.Condition(noSecret.lmo().Status.Conditions, licensingv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
			g.Expect(noSecret.sim.seats(lic1)).To(BeEquivalentTo(60))
		}, controllers.SecretProblemRecheck+eventually).Should(Succeed())
		s.ResetStats()
	})

	Context("references across namespaces", func() {
		// The LMO and the ManagedPackage live in "owner"; "other" has a License that names the
		// package, and "stranger" has a ManagedPackage that names the LMO. References are
		// same-namespace only: neither resolves, and nothing is written to the LMO.
		var owner *env
		var other, stranger string
		var xs *sim
		BeforeAll(func() {
			xs = startSim(baseSeed(seedLicenses))
			owner = newEnv(xs, "owner")
			Eventually(func() metav1.ConditionStatus {
				return testenv.Condition(owner.lmo().Status.Conditions, licensingv1alpha1.ConditionReady).Status
			}, eventually).Should(Equal(metav1.ConditionTrue))
			other = newNamespace("other")
			(&env{ns: other, sim: xs}).license("globex", func(l *licensingv1alpha1.License) {
				l.Spec.SubscriberOrgID = globex
				l.Spec.Seats = ptr.To(intstr.FromInt(60))
			})
			stranger = newNamespace("stranger")
			Expect(k8sClient.Create(ctx, &licensingv1alpha1.ManagedPackage{
				ObjectMeta: metav1.ObjectMeta{Namespace: stranger, Name: "acme-projects"},
				Spec:       licensingv1alpha1.ManagedPackageSpec{LMORef: licensingv1alpha1.LocalObjectReference{Name: "acme"}, PackageID: packageID},
			})).To(Succeed())
			(&env{ns: stranger, sim: xs}).license("initech", func(l *licensingv1alpha1.License) {
				l.Spec.SubscriberOrgID = initech
				l.Spec.Seats = ptr.To(intstr.FromInt(20))
			})
		})

		It("does not resolve a ManagedPackage of another namespace", func() {
			Eventually(func(g Gomega) {
				ready := testenv.Condition((&env{ns: other}).get("globex").Status.Conditions, licensingv1alpha1.ConditionReady)
				g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
				g.Expect(ready.Reason).To(Equal(licensingv1alpha1.ReasonPackageNotFound))
				g.Expect(ready.Message).To(ContainSubstring("does not exist in namespace " + other))
			}, eventually).Should(Succeed())
		})

		It("does not resolve a LicenseManagementOrg of another namespace", func() {
			Eventually(func(g Gomega) {
				var pkg licensingv1alpha1.ManagedPackage
				g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: stranger, Name: "acme-projects"}, &pkg)).To(Succeed())
				ready := testenv.Condition(pkg.Status.Conditions, licensingv1alpha1.ConditionReady)
				g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
				// The package's namespace has no LicenseManagementOrg of that name: it says so.
				g.Expect(ready.Reason).To(Equal(licensingv1alpha1.ReasonLMONotFound))
				g.Expect(ready.Message).To(ContainSubstring("does not exist in namespace " + stranger))
				g.Expect(pkg.Status.Package).To(BeNil())
				lic := testenv.Condition((&env{ns: stranger}).get("initech").Status.Conditions, licensingv1alpha1.ConditionReady)
				g.Expect(lic.Status).To(Equal(metav1.ConditionFalse))
				g.Expect(lic.Reason).To(Equal(licensingv1alpha1.ReasonLMONotReady))
			}, eventually).Should(Succeed())
		})

		It("writes nothing for them", func() {
			Consistently(func(g Gomega) {
				g.Expect(xs.writes()).To(BeZero())
				g.Expect(xs.seats(lic1)).To(BeEquivalentTo(50))
				g.Expect(xs.seats(lic2)).To(BeEquivalentTo(10))
			}, 3*time.Second, 500*time.Millisecond).Should(Succeed())
		})
	})

	It("writes nothing while the LMO cannot be used, and the manager keeps going", func() {
		Consistently(func() int64 { return s.writes() }, 2*time.Second, 500*time.Millisecond).Should(BeZero())
		Expect(s.seats(lic1)).To(BeEquivalentTo(60), "only the fixed namespace's write")
		expectManagerRunning()
	})
})
