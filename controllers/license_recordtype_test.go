package controllers_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/testenv"
)

var _ = Describe("License record types and License Types", func() {
	It("shows the record type, and says so when a status write leaves it behind instead of reporting Synced", func() {
		s := startSim(baseSeed(seedLicenses, "apiWritesKeepRecordType: true\n"))
		e := newEnv(s)
		e.license("initech", func(l *licensingv1alpha1.License) {
			l.Spec.SubscriberOrgID = initech
			l.Spec.Status = licensingv1alpha1.LicenseStatusSuspended
		})
		// Suspending cuts access: approve the held change as a reviewer would.
		var held *licensingv1alpha1.HeldChange
		Eventually(func(g Gomega) {
			held = e.get("initech").Status.HeldChange
			g.Expect(held).NotTo(BeNil())
		}, eventually).Should(Succeed())
		patchAnnotations(e.ns, "initech", map[string]string{licensingv1alpha1.AnnotationAllowAccessReduction: held.Approval})
		Eventually(func(g Gomega) {
			l := e.get("initech")
			g.Expect(l.Status.Observed).NotTo(BeNil())
			g.Expect(string(l.Status.Observed.Status)).To(Equal("Suspended"))
			g.Expect(l.Status.Observed.RecordType).To(Equal("Active"))
			c := testenv.Condition(l.Status.Conditions, "Synced")
			st, reason := c.Status, c.Reason
			g.Expect(st).To(Equal(metav1.ConditionFalse))
			g.Expect(reason).To(Equal(licensingv1alpha1.ReasonRecordTypeMismatch))
			g.Expect(testenv.Condition(l.Status.Conditions, "Synced").Message).To(ContainSubstring("Modify License"))
		}, eventually).Should(Succeed())
		Eventually(func() []string { return events(e.ns, "initech") }, eventually).Should(ContainElement(ContainSubstring("RecordTypeMismatch")))
		Expect(s.record(lic2).RecordTypeName()).To(Equal("Active"), "the operator changed the record type")
	})

	It("never writes a license the LMA does not let anyone modify, and names who manages it", func() {
		s := startSim(baseSeed(`
  - {id: a0N000000000002AAA, subscriberOrgID: 00D5g000004AbC2AAA, packageID: 033000000000001AAA, status: Active, licenseType: Read-Only, seats: 10, expiration: "2027-01-31", usedLicenses: 8}
`, ""))
		e := newEnv(s)
		s.ResetStats()
		e.license("initech", func(l *licensingv1alpha1.License) {
			l.Spec.SubscriberOrgID = initech
			l.Spec.Seats = ptr.To(intstr.FromInt(20))
		})
		Eventually(func(g Gomega) {
			l := e.get("initech")
			c := testenv.Condition(l.Status.Conditions, "Stalled")
			st, reason := c.Status, c.Reason
			g.Expect(st).To(Equal(metav1.ConditionTrue))
			g.Expect(reason).To(Equal(licensingv1alpha1.ReasonNotEditable))
			g.Expect(testenv.Condition(l.Status.Conditions, "Ready").Message).To(ContainSubstring("AppExchange Checkout"))
			g.Expect(l.Status.Observed.NotEditable).To(ContainSubstring("Read-Only"))
		}, eventually).Should(Succeed())
		Eventually(func() []string { return events(e.ns, "initech") }, eventually).Should(ContainElement(ContainSubstring("NotEditable")))
		Consistently(func() int64 { return s.Stats().Calls["collectionsPatch"] + s.Stats().Calls["rowPatch"] }, 2*time.Second).Should(BeZero())
	})
})
