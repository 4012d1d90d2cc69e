package controllers_test

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/testenv"
)

// eventCount sums the count of the Events with the reason about the named object: client-go folds
// a repeated Event into one object with a higher count, and a restarted manager makes a new one.
func eventCount(ns, name, reason string) (n int32, messages []string) {
	var list corev1.EventList
	Expect(k8sClient.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
	for _, ev := range list.Items {
		if ev.InvolvedObject.Name == name && ev.Reason == reason {
			n += max(ev.Count, 1)
			messages = append(messages, ev.Message)
		}
	}
	return n, messages
}

// startManager starts another manager with the operator's controllers, as a restarted operator
// would start with nothing in memory, and stops it when the spec ends.
func startManager() {
	testenv.RunManager(ctx, restConfig, ctrl.Options{Scheme: scheme, Controller: config.Controller{SkipNameValidation: ptr.To(true)}}, setup)
}

var _ = Describe("License expiry notices", func() {
	It("gives a trial 6 days from its end exactly one 7-day Event across reconciles and a manager restart", func() {
		expires := time.Now().UTC().AddDate(0, 0, 6).Format(time.DateOnly)
		s := startSim(baseSeed(fmt.Sprintf(`
  - {id: a0N000000000071AAA, subscriberOrgID: 00D5g000007TrL1AAA, packageID: 033000000000001AAA, status: Trial, seats: 10, expiration: "%s", usedLicenses: 2}
`, expires), ""))
		e := newEnv(s)
		e.license("trial", func(l *licensingv1alpha1.License) {
			l.Spec.SubscriberOrgID = "00D5g000007TrL1AAA"
			l.Spec.Seats = ptr.To(intstr.FromInt(10))
			l.Spec.ManagementPolicy = licensingv1alpha1.PolicyObserve
		})
		Eventually(func(g Gomega) {
			n, msgs := eventCount(e.ns, "trial", licensingv1alpha1.ReasonTrialExpiring)
			g.Expect(n).To(BeEquivalentTo(1))
			g.Expect(msgs[0]).To(ContainSubstring("ends in 6 days, on " + expires))
			notice := e.get("trial").Status.ExpiryNotice
			g.Expect(notice).NotTo(BeNil())
			g.Expect(notice.Window).To(Equal(licensingv1alpha1.ExpiryWindow7Days))
		}, eventually).Should(Succeed())

		By("reconciling again: a person's edits in the LMO and annotation changes")
		for i, seats := range []int{12, 10, 11} {
			s.edit("a0N000000000071AAA", map[string]any{"sfLma__Seats__c": seats})
			patchAnnotations(e.ns, "trial", map[string]string{"example.com/touch": fmt.Sprint(i)})
			Eventually(func(g Gomega) {
				g.Expect(e.get("trial").Status.Observed.Seats.IntValue()).To(Equal(seats))
			}, eventually).Should(Succeed())
		}

		By("restarting the manager: a new one reconciles every License with nothing in memory")
		tokens := s.Stats().Calls["token"]
		startManager()
		Eventually(func() int64 { return s.Stats().Calls["token"] }, eventually).Should(BeNumerically(">", tokens))
		s.edit("a0N000000000071AAA", map[string]any{"sfLma__Seats__c": 13})
		Eventually(func(g Gomega) {
			g.Expect(e.get("trial").Status.Observed.Seats.IntValue()).To(Equal(13))
		}, eventually).Should(Succeed())
		Consistently(func(g Gomega) {
			n, msgs := eventCount(e.ns, "trial", licensingv1alpha1.ReasonTrialExpiring)
			g.Expect(n).To(BeEquivalentTo(1), "%q", msgs)
		}, 10*time.Second, time.Second).Should(Succeed())
		lapsed, _ := eventCount(e.ns, "trial", licensingv1alpha1.ReasonTrialLapsed)
		Expect(lapsed).To(BeZero())
	})
})

var _ = Describe("License corrections", func() {
	It("puts back a person's edit under Enforce and names the person, when, and the value put back", func() {
		s := startSim(baseSeed(seedLicenses, ""))
		e := newEnv(s)
		e.license("globex", func(l *licensingv1alpha1.License) {
			l.Spec.SubscriberOrgID = globex
			l.Spec.Seats = ptr.To(intstr.FromInt(50))
		})
		e.waitReady("globex")
		s.edit(lic1, map[string]any{"sfLma__Seats__c": 130})
		Eventually(func() float64 { return s.seats(lic1) }, eventually).Should(BeEquivalentTo(50))
		Eventually(func(g Gomega) {
			n, msgs := eventCount(e.ns, "globex", licensingv1alpha1.ReasonDriftCorrected)
			g.Expect(n).To(BeEquivalentTo(1))
			g.Expect(msgs[0]).To(MatchRegexp(`^Put back seats 50 on license a0N000000000001AAA over 130, which Dana Admin \(dana\.admin@acme\.example\) set at 20\d\d-`))
			c := e.get("globex").Status.LastCorrection
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Fields).To(HaveLen(1))
			f := c.Fields[0]
			g.Expect([]string{f.Field, f.Replaced, f.Restored, f.ChangedBy, f.ChangedByUsername}).To(
				Equal([]string{"seats", "130", "50", "Dana Admin", "dana.admin@acme.example"}))
			g.Expect(f.ChangedAt).NotTo(BeNil())
		}, eventually).Should(Succeed())
		written, _ := eventCount(e.ns, "globex", licensingv1alpha1.ReasonLicenseWritten)
		Expect(written).To(BeZero(), "the correction was also reported as an ordinary write")
	})
})
