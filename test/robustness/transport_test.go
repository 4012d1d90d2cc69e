package robustness_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/salesforce"
	"github.com/lmo-operator/lmo-operator/internal/testenv"
)

// countingTransport counts the requests that reach it and answers none.
type countingTransport struct{ n atomic.Int64 }

func (c *countingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	c.n.Add(1)
	return nil, errors.New("the test transport sends nothing")
}

// Already covered elsewhere, and not repeated here:
//   - admission refuses an http instanceURL or loginURL for a non-loopback host:
//     api/v1alpha1/validation_test.go ("a non-https non-loopback instanceURL", "a non-https loginURL");
//   - salesforce.New refuses them with ErrInvalidConfig, and a transport with InsecureSkipVerify:
//     internal/salesforce TestNewRefusesUnsafeConfig; an untrusted certificate is a Terminal
//     "certificate" error: TestTLSIsVerified;
//   - the token endpoint is the configured login host plus a fixed path, a redirect is not followed,
//     and a token response naming another instance is an Auth error: TestTokenRedirectIsNotFollowed,
//     TestInstanceURLIsPinned, TestHostileTokenResponses ("an instance on https").
//
// The specs below add what those do not show: no byte leaves for a refused URL, and the same
// protections seen from the LicenseManagementOrg's status with the manager running.
var _ = Describe("Transport security", Ordered, ContinueOnFailure, func() {
	It("sends nothing at all to a plain-http non-loopback host", func() {
		for _, cfg := range []salesforce.Config{
			{InstanceURL: "http://example.com"},
			{InstanceURL: "https://example.com", LoginURL: "http://login.example.com"},
		} {
			rt := &countingTransport{}
			cfg.ClientCredentials = &salesforce.ClientCredentials{ClientID: operatorID, ClientSecret: operatorSecret}
			cfg.HTTPClient = &http.Client{Transport: rt}
			_, err := salesforce.New(ctx, cfg)
			Expect(err).To(MatchError(salesforce.ErrInvalidConfig))
			Expect(err.Error()).To(ContainSubstring("https is required"))
			Expect(err.Error()).NotTo(ContainSubstring(operatorSecret))
			Expect(rt.n.Load()).To(BeZero(), "a request was sent for %s", cfg)
		}
	})

	It("refuses an LMO whose certificate does not verify", func() {
		s := startSim(baseSeed(seedLicenses))
		var requests atomic.Int64
		tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			s.serve(w, r)
		}))
		DeferCleanup(tlsSrv.Close)
		Expect(tlsSrv.URL).To(HavePrefix("https://127.0.0.1:"))
		e := newEnv(s, "untrusted-tls", func(l *licensingv1alpha1.LicenseManagementOrg) { l.Spec.InstanceURL = tlsSrv.URL })
		needsWrite(e)
		Eventually(func(g Gomega) {
			lmo := e.lmo()
			ready := testenv.Condition(lmo.Status.Conditions, licensingv1alpha1.ConditionReady)
			g.Expect(testenv.Condition(lmo.Status.Conditions, licensingv1alpha1.ConditionAuthenticated).Status).NotTo(Equal(metav1.ConditionTrue))
			g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(ready.Message).To(ContainSubstring("certificate"))
			GinkgoWriter.Printf("untrusted TLS: Ready %s: %s; Authenticated %+v\n", ready.Reason, ready.Message,
				testenv.Condition(lmo.Status.Conditions, licensingv1alpha1.ConditionAuthenticated))
		}, eventually).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(requests.Load()).To(BeZero(), "an HTTP request got through the failed handshake")
			g.Expect(testenv.Condition(e.lmo().Status.Conditions, licensingv1alpha1.ConditionAuthenticated).Status).NotTo(Equal(metav1.ConditionTrue))
			g.Expect(s.writes()).To(BeZero())
		}, 2*time.Second, 500*time.Millisecond).Should(Succeed())
	})

	It("refuses a token issued for another instance and calls nothing with it", func() {
		s := startSim(baseSeed(seedLicenses))
		s.mu.Lock()
		s.rewrite = func(tok map[string]any) { tok["instance_url"] = "https://evil.example.com" }
		s.mu.Unlock()
		s.ResetStats()
		e := newEnv(s, "foreign-instance")
		needsWrite(e)
		Eventually(func(g Gomega) {
			lmo := e.lmo()
			auth := testenv.Condition(lmo.Status.Conditions, licensingv1alpha1.ConditionAuthenticated)
			g.Expect(auth.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(auth.Reason).To(Equal(licensingv1alpha1.ReasonAuthenticationFailed))
			g.Expect(auth.Message).To(And(ContainSubstring("evil.example.com"), ContainSubstring("instance_url_mismatch")))
			g.Expect(testenv.Condition(lmo.Status.Conditions, licensingv1alpha1.ConditionReady).Reason).To(Equal(licensingv1alpha1.ReasonAuthenticationFailed))
		}, eventually).Should(Succeed())
		Consistently(func(g Gomega) {
			st := s.Stats()
			g.Expect(st.Calls["token"]).To(BeNumerically(">=", 1))
			for kind, n := range st.Calls {
				if kind != "token" {
					g.Expect(n).To(BeZero(), "a %s call was made with a token for another instance", kind)
				}
			}
		}, 2*time.Second, 500*time.Millisecond).Should(Succeed())
		Expect(strings.Contains(logs.String(), "evil.example.com/services")).To(BeFalse(), "a call went to the foreign instance")
	})
})
