package controllers_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/lmosim"
	"github.com/lmo-operator/lmo-operator/internal/testenv"
)

// Licenses installed before the ManagedPackage existed, so the defaults check leaves them alone.
var oldInstalls = `
  - {id: a0N000000000001AAA, subscriberOrgID: 00D5g000004XyZ1AAA, packageID: 033000000000001AAA, status: Active, seats: 50, expiration: "2027-06-30", installDate: "2025-01-10", usedLicenses: 12}
  - {id: a0N000000000002AAA, subscriberOrgID: 00D5g000004AbC2AAA, packageID: 033000000000001AAA, status: Trial, seats: 10, expiration: "2099-01-31", installDate: "2025-02-10"}
  - {id: a0N000000000003AAA, subscriberOrgID: 00D5g000004Gl0bAAA, packageID: 033000000000001AAA, status: Suspended, seats: 5, expiration: "2026-01-31", installDate: "2025-03-10", isSandbox: true}
  - {id: a0N000000000004AAA, subscriberOrgID: 00D5g000004Um6rAAA, packageID: 033000000000001AAA, status: Uninstalled, seats: 5, expiration: "2026-01-31", installDate: "2025-03-10"}
`

func getPackage(ns string) *licensingv1alpha1.ManagedPackage {
	var p licensingv1alpha1.ManagedPackage
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-projects"}, &p)).To(Succeed())
	return &p
}

func setDefaults(ns string, policy licensingv1alpha1.Policy, seats int) {
	p := getPackage(ns)
	patch := client.MergeFrom(p.DeepCopy())
	p.Spec.Defaults = &licensingv1alpha1.PackageDefaults{Status: licensingv1alpha1.LicenseStatusTrial, TrialDays: ptr.To[int32](30), Seats: intstr.FromInt(seats)}
	p.Spec.DefaultsPolicy = policy
	// A merge patch: the controller updates the status meanwhile, which would conflict with Update.
	Expect(k8sClient.Patch(ctx, p, patch)).To(Succeed())
}

var _ = Describe("ManagedPackage", func() {
	var (
		s *sim
		e *env
	)
	BeforeEach(func() {
		s = startSim(baseSeed(oldInstalls, ""))
		e = newEnv(s)
	})

	It("waits for a LicenseManagementOrg that does not exist, saying so", func() {
		orphan := &licensingv1alpha1.ManagedPackage{
			ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "orphan"},
			Spec:       licensingv1alpha1.ManagedPackageSpec{LMORef: licensingv1alpha1.LocalObjectReference{Name: "missing-lmo"}, PackageID: "033000000000009AAA"},
		}
		Expect(k8sClient.Create(ctx, orphan)).To(Succeed())
		Eventually(func(g Gomega) {
			var p licensingv1alpha1.ManagedPackage
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(orphan), &p)).To(Succeed())
			c := testenv.Condition(p.Status.Conditions, "Reconciling")
			st, reason := c.Status, c.Reason
			g.Expect(st).To(Equal(metav1.ConditionTrue))
			g.Expect(reason).To(Equal("LMONotFound"))
			g.Expect(testenv.Condition(p.Status.Conditions, "Ready").Message).To(ContainSubstring("LicenseManagementOrg missing-lmo does not exist"))
		}, eventually).Should(Succeed())
	})

	It("is Associated and counts the install base", func() {
		Eventually(func(g Gomega) {
			p := getPackage(e.ns)
			st := testenv.Condition(p.Status.Conditions, "Associated").Status
			g.Expect(st).To(Equal(metav1.ConditionTrue))
			g.Expect(p.Status.Package).NotTo(BeNil())
			g.Expect(p.Status.Package.Name).To(Equal("Acme Projects"))
			g.Expect(p.Status.InstallBase).To(Equal(&licensingv1alpha1.InstallBase{
				Trial: 1, Active: 1, Suspended: 1, Uninstalled: 1, Sandbox: 1, Total: 4}))
			st = testenv.Condition(p.Status.Conditions, "Ready").Status
			g.Expect(st).To(Equal(metav1.ConditionTrue))
		}, eventually).Should(Succeed())
	})

	It("reports a new install that did not get the defaults under Observe, and names it in an Event", func() {
		setDefaults(e.ns, licensingv1alpha1.PolicyObserve, 25)
		inst, err := s.Install(lmosim.InstallRequest{PackageID: packageID, SubscriberOrgID: "00D5g00000NeW01AAA", Edition: "Enterprise Edition"})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(g Gomega) {
			p := getPackage(e.ns)
			c := testenv.Condition(p.Status.Conditions, "DefaultsMatch")
			st, reason := c.Status, c.Reason
			g.Expect(st).To(Equal(metav1.ConditionFalse))
			g.Expect(reason).To(Equal("DefaultsMismatch"))
			g.Expect(p.Status.Defaults).NotTo(BeNil())
			g.Expect(p.Status.Defaults.Checked).To(BeEquivalentTo(1))
			g.Expect(p.Status.Defaults.Mismatched).To(BeEquivalentTo(1))
		}, 10*time.Second+eventually).Should(Succeed())
		Eventually(func() []string { return events(e.ns, "acme-projects") }, eventually).Should(ContainElement(ContainSubstring("00D5g00000NeW01AAA")))
		Expect(s.seats(inst.ID)).To(BeEquivalentTo(10), "Observe wrote to the LMO")
	})

	It("sets a new install's terms to the defaults under Enforce, unless a License exists for the subscriber", func() {
		setDefaults(e.ns, licensingv1alpha1.PolicyEnforce, 25)
		e.license("owned", func(l *licensingv1alpha1.License) {
			l.Spec.SubscriberOrgID = "00D5g00000NeW02AAA"
			l.Spec.ManagementPolicy = licensingv1alpha1.PolicyObserve
		})
		free, err := s.Install(lmosim.InstallRequest{PackageID: packageID, SubscriberOrgID: "00D5g00000NeW01AAA"})
		Expect(err).NotTo(HaveOccurred())
		owned, err := s.Install(lmosim.InstallRequest{PackageID: packageID, SubscriberOrgID: "00D5g00000NeW02AAA"})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() float64 { return s.seats(free.ID) }, 10*time.Second+eventually).Should(BeEquivalentTo(25))
		Consistently(func() float64 { return s.seats(owned.ID) }, 3*time.Second).Should(BeEquivalentTo(10))
		Eventually(func(g Gomega) {
			g.Expect(getPackage(e.ns).Status.Defaults.Enforced).To(BeEquivalentTo(1))
		}, eventually).Should(Succeed())
	})
})

var _ = Describe("API budget", func() {
	It("defers writes when the daily limit is nearly spent, and says why", func() {
		s := startSim(baseSeed(seedLicenses, ""))
		e := newEnv(s)
		Eventually(func(g Gomega) {
			var lmo licensingv1alpha1.LicenseManagementOrg
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: "acme"}, &lmo)).To(Succeed())
			st := testenv.Condition(lmo.Status.Conditions, "Ready").Status
			g.Expect(st).To(Equal(metav1.ConditionTrue))
		}, eventually).Should(Succeed())
		s.SetAPIUsage(95000) // 5% left, under the 20% reserve
		Eventually(func(g Gomega) {
			var lmo licensingv1alpha1.LicenseManagementOrg
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: "acme"}, &lmo)).To(Succeed())
			reason := testenv.Condition(lmo.Status.Conditions, "Ready").Reason
			g.Expect(reason).To(Equal("APIBudgetLow"))
			g.Expect(testenv.Condition(lmo.Status.Conditions, "Ready").Message).To(ContainSubstring("writes are deferred"))
		}, 10*time.Second+eventually).Should(Succeed())
		s.ResetStats()
		e.license("globex", func(l *licensingv1alpha1.License) {
			l.Spec.SubscriberOrgID = globex
			l.Spec.Seats = ptr.To(intstr.FromInt(70))
		})
		Eventually(func(g Gomega) {
			l := e.get("globex")
			reason := testenv.Condition(l.Status.Conditions, "Ready").Reason
			g.Expect(reason).To(Equal("WriteQueued"))
			g.Expect(testenv.Condition(l.Status.Conditions, "Ready").Message).To(ContainSubstring("deferred"))
		}, eventually).Should(Succeed())
		Consistently(func() int64 { return s.Stats().Calls["collectionsPatch"] }, 5*time.Second).Should(BeZero())
		s.SetAPIUsage(100)
		Eventually(func() float64 { return s.seats(lic1) }, 2*10*time.Second+eventually).Should(BeEquivalentTo(70))
	})
})

var _ = Describe("License resolution", func() {
	It("pins a record by licenseID, and asks for a pin when a subscriber has two live licenses", func() {
		twice := seedLicenses + `  - {id: a0N000000000005AAA, subscriberOrgID: 00D5g000004XyZ1AAA, packageID: 033000000000001AAA, status: Trial, seats: 3, expiration: "2026-12-31"}
`
		s := startSim(baseSeed(twice, ""))
		e := newEnv(s)
		e.license("ambiguous", func(l *licensingv1alpha1.License) {
			l.Spec.SubscriberOrgID = globex
			l.Spec.Seats = ptr.To(intstr.FromInt(7))
		})
		e.license("pinned", func(l *licensingv1alpha1.License) {
			l.Spec.LicenseID = "a0N000000000005AAA"
			l.Spec.Seats = ptr.To(intstr.FromInt(7))
		})
		Eventually(func(g Gomega) {
			reason := testenv.Condition(e.get("ambiguous").Status.Conditions, "Stalled").Reason
			g.Expect(reason).To(Equal("AmbiguousLicense"))
		}, eventually).Should(Succeed())
		Eventually(func() float64 { return s.seats("a0N000000000005AAA") }, eventually).Should(BeEquivalentTo(7))
		Expect(s.seats(lic1)).To(BeEquivalentTo(50))
	})
})
