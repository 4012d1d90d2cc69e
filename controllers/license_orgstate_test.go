package controllers_test

import (
	"encoding/json"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/lmosim"
	"github.com/lmo-operator/lmo-operator/internal/testenv"
)

var _ = Describe("Customers and their subscriber orgs", func() {
	It("shows the customer and the org's state, and never writes a license whose subscriber org is deleted", func() {
		s := startSim(baseSeed(`
  - {id: a0N000000000002AAA, subscriberOrgID: 00D5g000004AbC2AAA, packageID: 033000000000001AAA, status: Trial, seats: 10, expiration: "2027-01-31", usedLicenses: 8,
     lead: {company: Initech, name: Peter Gibbons, email: peter@initech.example}, orgStatus: TRIAL, orgTrialExpiration: "2026-12-24"}
`, ""))
		e := newEnv(s)
		e.license("initech", func(l *licensingv1alpha1.License) {
			l.Spec.SubscriberOrgID = initech
			l.Spec.Seats = ptr.To(intstr.FromInt(10))
		})
		Eventually(func(g Gomega) {
			l := e.get("initech")
			g.Expect(l.Status.Observed).NotTo(BeNil())
			g.Expect(l.Status.Observed.Customer).To(Equal("Initech"))
			g.Expect(l.Status.Observed.SubscriberOrg).NotTo(BeNil())
			g.Expect(l.Status.Observed.SubscriberOrg.Status).To(Equal("TRIAL"))
			g.Expect(l.Status.Observed.SubscriberOrg.TrialExpiration).To(Equal("2026-12-24"))
			st := testenv.Condition(l.Status.Conditions, "Ready").Status
			g.Expect(st).To(Equal(metav1.ConditionTrue))
		}, eventually).Should(Succeed())

		// The LMA records the org as deleted; within a poll the License says so, even though its
		// record matches the spec.
		deleted := "DELETED"
		_, err := s.UpdateFromSubscriber(lic2, lmosim.SubscriberUpdate{OrgStatus: &deleted})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(g Gomega) {
			l := e.get("initech")
			c := testenv.Condition(l.Status.Conditions, "Stalled")
			st, reason := c.Status, c.Reason
			g.Expect(st).To(Equal(metav1.ConditionTrue))
			g.Expect(reason).To(Equal(licensingv1alpha1.ReasonSubscriberOrgDeleted))
			g.Expect(testenv.Condition(l.Status.Conditions, "Ready").Message).To(ContainSubstring("DELETED"))
			g.Expect(l.Status.Observed.SubscriberOrg.Status).To(Equal("DELETED"))
		}, eventually).Should(Succeed())
		Eventually(func() []string { return events(e.ns, "initech") }, eventually).Should(ContainElement(ContainSubstring("SubscriberOrgDeleted")))

		// A change to the spec is not written.
		s.ResetStats()
		Eventually(func() error {
			l := e.get("initech")
			l.Spec.Seats = ptr.To(intstr.FromInt(20))
			return k8sClient.Update(ctx, l)
		}, eventually).Should(Succeed())
		Eventually(func(g Gomega) {
			l := e.get("initech")
			g.Expect(l.Status.ObservedGeneration).To(Equal(l.Generation))
			reason := testenv.Condition(l.Status.Conditions, "Stalled").Reason
			g.Expect(reason).To(Equal(licensingv1alpha1.ReasonSubscriberOrgDeleted))
		}, eventually).Should(Succeed())
		Consistently(func() int64 { return s.Stats().Calls["collectionsPatch"] + s.Stats().Calls["rowPatch"] }, 2*time.Second).Should(BeZero())
		Expect(s.record(lic2).Seats).To(HaveValue(BeNumerically("==", 10)))

		// The lead's person is nowhere: not in status, not in Events.
		b, err := json.Marshal(e.get("initech").Status)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(b)).NotTo(Or(ContainSubstring("Peter"), ContainSubstring("initech.example")))
		Expect(events(e.ns, "initech")).NotTo(ContainElement(Or(ContainSubstring("Peter"), ContainSubstring("initech.example"))))
	})
})
