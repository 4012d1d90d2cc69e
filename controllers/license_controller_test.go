package controllers_test

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/controllers"
	"github.com/lmo-operator/lmo-operator/internal/lmosim"
	"github.com/lmo-operator/lmo-operator/internal/testenv"
)

const (
	globex  = "00D5g000004XyZ1AAA"
	initech = "00D5g000004AbC2AAA"
	hooli   = "00D5g000009HoOLAAA"
	gone    = "00D5g000007GoNeAAA"
	lic1    = "a0N000000000001AAA"
	lic2    = "a0N000000000002AAA"
	licGone = "a0N000000000009AAA"
)

var seedLicenses = `
  - {id: a0N000000000001AAA, subscriberOrgID: 00D5g000004XyZ1AAA, packageID: 033000000000001AAA, status: Active, seats: 50, expiration: "2027-06-30", usedLicenses: 12, featureParameters: {acme__MaxProjects: 20, acme__AdvancedReporting: false, acme__ActiveUsers: 11}}
  - {id: a0N000000000002AAA, subscriberOrgID: 00D5g000004AbC2AAA, packageID: 033000000000001AAA, status: Active, seats: 10, expiration: "2027-01-31", usedLicenses: 8}
  - {id: a0N000000000009AAA, subscriberOrgID: 00D5g000007GoNeAAA, packageID: 033000000000001AAA, status: Uninstalled, seats: 10, expiration: "2027-01-31", usedLicenses: 0}
`

const eventually = 20 * time.Second

var _ = Describe("LicenseManagementOrg", func() {
	It("authenticates, checks the org and reports the mirror", func() {
		s := startSim(baseSeed(seedLicenses, ""))
		e := newEnv(s)
		Eventually(func(g Gomega) {
			var lmo licensingv1alpha1.LicenseManagementOrg
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: "acme"}, &lmo)).To(Succeed())
			for _, typ := range []string{"Ready", "Authenticated", "LMAInstalled", "FMAInstalled", "ProductionOrg"} {
				st := testenv.Condition(lmo.Status.Conditions, typ).Status
				g.Expect(st).To(Equal(metav1.ConditionTrue), typ)
			}
			g.Expect(lmo.Status.Organization).NotTo(BeNil())
			g.Expect(lmo.Status.Organization.Name).To(Equal("Acme ISV"))
			g.Expect(lmo.Status.Mirror).NotTo(BeNil())
			g.Expect(lmo.Status.Mirror.Licenses).To(BeEquivalentTo(3))
			g.Expect(lmo.Status.APIUsage).NotTo(BeNil())
			g.Expect(lmo.Status.APIUsage.Max).To(BeEquivalentTo(100000))
			g.Expect(lmo.Status.ObservedGeneration).To(Equal(lmo.Generation))
		}, eventually).Should(Succeed())
	})

	It("says the Secret is missing or invalid without naming which of its keys", func() {
		s := startSim(baseSeed(seedLicenses, ""))
		e := newEnv(s, func(l *licensingv1alpha1.LicenseManagementOrg) {
			l.Spec.Auth.ClientCredentials.SecretRef.Name = "broken"
		})
		createSecret(e.ns, "broken", map[string]string{"client-id": operatorID})
		Eventually(func(g Gomega) {
			var lmo licensingv1alpha1.LicenseManagementOrg
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: "acme"}, &lmo)).To(Succeed())
			c := testenv.Condition(lmo.Status.Conditions, "Authenticated")
			st, reason := c.Status, c.Reason
			g.Expect(st).To(Equal(metav1.ConditionFalse))
			g.Expect(reason).To(Equal("SecretInvalid"))
			g.Expect(testenv.Condition(lmo.Status.Conditions, "Ready").Message).To(ContainSubstring("Secret " + e.ns + "/broken is missing or invalid"))
			g.Expect(testenv.Condition(lmo.Status.Conditions, "Ready").Message).NotTo(ContainSubstring(`"client-secret"`))
			g.Expect(testenv.Condition(lmo.Status.Conditions, "Ready").Message).NotTo(ContainSubstring(operatorPW))
			// LMOUnreachable fires on lmo_up == 0: the series exists and says down.
			up, ok := gaugeValue("lmo_up", map[string]string{"lmo": e.ns + "/acme"})
			g.Expect(ok).To(BeTrue(), "no lmo_up series for an LMO whose Secret is broken")
			g.Expect(up).To(BeZero())
		}, controllers.SecretProblemRecheck+eventually).Should(Succeed())
	})
})

var _ = Describe("License", func() {
	var (
		s *sim
		e *env
	)
	BeforeEach(func() {
		s = startSim(baseSeed(seedLicenses, ""))
		e = newEnv(s)
	})

	It("writes only the managed fields that differ, and records an Event and a log line naming old and new values", func() {
		e.license("globex", func(l *licensingv1alpha1.License) {
			l.Spec.SubscriberOrgID = globex
			l.Spec.Seats = ptr.To(intstr.FromInt(60))
			l.Spec.FeatureParameters = []licensingv1alpha1.FeatureParameterValue{{Name: "acme__MaxProjects", Integer: ptr.To[int64](50)}}
		})
		Eventually(func(g Gomega) {
			l := e.get("globex")
			c := testenv.Condition(l.Status.Conditions, "Ready")
			st, reason := c.Status, c.Reason
			g.Expect(st).To(Equal(metav1.ConditionTrue), reason)
			g.Expect(l.Status.LicenseID).To(Equal(lic1))
			g.Expect(l.Status.Drift).To(BeEmpty())
			g.Expect(l.Status.ObservedGeneration).To(Equal(l.Generation))
		}, eventually).Should(Succeed())
		rec := s.record(lic1)
		Expect(*rec.Seats).To(BeEquivalentTo(60))
		Expect(rec.Expiration.String()).To(Equal("2027-06-30"), "an unmanaged field was written")
		Expect(rec.Status).To(Equal("Active"))
		lic, _ := s.GetLicense(lic1)
		Expect(lic.FeatureParameters).To(HaveKeyWithValue("acme__MaxProjects", BeNumerically("==", 50)))
		Expect(lic.FeatureParameters).To(HaveKeyWithValue("acme__AdvancedReporting", false))
		Eventually(func() []string { return events(e.ns, "globex") }, eventually).Should(ContainElement(
			And(ContainSubstring("LicenseWritten"), ContainSubstring("seats 50 → 60"))))
		Expect(strings.Split(managerLog.String(), "\n")).To(ContainElement(And(ContainSubstring("Wrote a license record"),
			ContainSubstring(lic1), ContainSubstring(`"globex"`), ContainSubstring("seats 50 → 60"))))
	})

	It("only reports drift under the Observe policy", func() {
		s.ResetStats()
		e.license("initech", func(l *licensingv1alpha1.License) {
			l.Spec.SubscriberOrgID = initech
			l.Spec.Seats = ptr.To(intstr.FromInt(20))
			l.Spec.ManagementPolicy = licensingv1alpha1.PolicyObserve
		})
		Eventually(func(g Gomega) {
			l := e.get("initech")
			g.Expect(l.Status.Drift).To(HaveLen(1))
			g.Expect(l.Status.Drift[0].Field).To(Equal("seats"))
			g.Expect(l.Status.Drift[0].Desired).To(Equal("20"))
			g.Expect(l.Status.Drift[0].Observed).To(Equal("10"))
			st := testenv.Condition(l.Status.Conditions, "Drifted").Status
			g.Expect(st).To(Equal(metav1.ConditionTrue))
			st = testenv.Condition(l.Status.Conditions, "Ready").Status
			g.Expect(st).To(Equal(metav1.ConditionFalse))
		}, eventually).Should(Succeed())
		Consistently(func() float64 { return s.seats(lic2) }, 3*time.Second).Should(BeEquivalentTo(10))
		Expect(s.Stats().Calls["collectionsPatch"]).To(BeZero())
	})

	It("shows an edit made in the LMO as drift attributed to its author, and corrects it under Enforce", func() {
		e.license("globex", func(l *licensingv1alpha1.License) {
			l.Spec.SubscriberOrgID = globex
			l.Spec.Seats = ptr.To(intstr.FromInt(50))
		})
		e.waitReady("globex")
		// Pause so the drift stays visible, then let a person change the record.
		patchAnnotations(e.ns, "globex", map[string]string{licensingv1alpha1.AnnotationPaused: "true"})
		s.edit(lic1, map[string]any{"sfLma__Seats__c": 5})
		edited := time.Now()
		Eventually(func(g Gomega) {
			l := e.get("globex")
			g.Expect(l.Status.Drift).To(HaveLen(1))
			g.Expect(l.Status.Drift[0].ChangedBy).To(Equal("Dana Admin"))
			g.Expect(l.Status.Drift[0].ChangedByUsername).To(Equal("dana.admin@acme.example"))
			g.Expect(l.Status.Drift[0].Observed).To(Equal("5"))
			reason := testenv.Condition(l.Status.Conditions, "Synced").Reason
			g.Expect(reason).To(Equal("Paused"))
		}, 10*time.Second+eventually).Should(Succeed())
		GinkgoWriter.Printf("drift visible after %s\n", time.Since(edited))
		Expect(s.seats(lic1)).To(BeEquivalentTo(5), "a paused License was written")
		patchAnnotations(e.ns, "globex", map[string]string{licensingv1alpha1.AnnotationPaused: "false"})
		Eventually(func() float64 { return s.seats(lic1) }, eventually).Should(BeEquivalentTo(50))
	})

	It("waits for the install, then applies the terms", func() {
		e.license("hooli", func(l *licensingv1alpha1.License) {
			l.Spec.SubscriberOrgID = hooli
			l.Spec.Status = licensingv1alpha1.LicenseStatusActive
			l.Spec.Seats = ptr.To(intstr.FromString("SiteLicense"))
			l.Spec.Expiration = "Never"
		})
		Eventually(func(g Gomega) {
			reason := testenv.Condition(e.get("hooli").Status.Conditions, "Ready").Reason
			g.Expect(reason).To(Equal("AwaitingInstall"))
		}, eventually).Should(Succeed())
		installed, err := s.Install(lmosim.InstallRequest{PackageID: packageID, SubscriberOrgID: hooli, Edition: "Enterprise Edition"})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(g Gomega) {
			rec := s.record(installed.ID)
			g.Expect(rec.Status).To(Equal("Active"))
			g.Expect(rec.IsSiteLicense()).To(BeTrue())
			g.Expect(rec.NeverExpires()).To(BeTrue())
		}, 10*time.Second+eventually).Should(Succeed())
		e.waitReady("hooli")
	})

	It("never writes an Uninstalled record and says so", func() {
		s.ResetStats()
		e.license("gone", func(l *licensingv1alpha1.License) {
			l.Spec.LicenseID = licGone
			l.Spec.Seats = ptr.To(intstr.FromInt(99))
		})
		Eventually(func(g Gomega) {
			l := e.get("gone")
			c := testenv.Condition(l.Status.Conditions, "Stalled")
			st, reason := c.Status, c.Reason
			g.Expect(st).To(Equal(metav1.ConditionTrue))
			g.Expect(reason).To(Equal("Uninstalled"))
		}, eventually).Should(Succeed())
		Consistently(func() int64 { return s.Stats().Calls["collectionsPatch"] }, 2*time.Second).Should(BeZero())
	})

	It("refuses Active to Trial when the record is Active", func() {
		e.license("initech", func(l *licensingv1alpha1.License) {
			l.Spec.SubscriberOrgID = initech
			l.Spec.Status = licensingv1alpha1.LicenseStatusTrial
			l.Spec.Expiration = time.Now().AddDate(0, 0, 30).Format(time.DateOnly)
		})
		Eventually(func(g Gomega) {
			c := testenv.Condition(e.get("initech").Status.Conditions, "Stalled")
			st, reason := c.Status, c.Reason
			g.Expect(st).To(Equal(metav1.ConditionTrue))
			g.Expect(reason).To(Equal("ImpossibleTransition"))
		}, eventually).Should(Succeed())
		Expect(s.record(lic2).Status).To(Equal("Active"))
	})

	It("holds an access reduction until it is approved by annotation", func() {
		e.license("globex", func(l *licensingv1alpha1.License) {
			l.Spec.SubscriberOrgID = globex
			l.Spec.Status = licensingv1alpha1.LicenseStatusSuspended
			l.Spec.Seats = ptr.To(intstr.FromInt(5)) // 12 in use
		})
		Eventually(func(g Gomega) {
			l := e.get("globex")
			reason := testenv.Condition(l.Status.Conditions, "Ready").Reason
			g.Expect(reason).To(Equal("AccessReductionHeld"))
			g.Expect(testenv.Condition(l.Status.Conditions, "Ready").Message).To(And(ContainSubstring("Active to Suspended"), ContainSubstring("seats 5 below the 12 in use")))
		}, eventually).Should(Succeed())
		Eventually(func() []string { return events(e.ns, "globex") }, eventually).Should(ContainElement(ContainSubstring("AccessReductionHeld")))
		Consistently(func() string { return s.record(lic1).Status }, 2*time.Second).Should(Equal("Active"))
		held := e.get("globex").Status.HeldChange
		Expect(held).NotTo(BeNil())
		Expect(held.Reductions).To(ConsistOf("status Active to Suspended", "seats 5 below the 12 in use"))
		Expect(testenv.Condition(e.get("globex").Status.Conditions, "Ready").Message).To(ContainSubstring(`"` + held.Approval + `"`))

		By("an approval of every change (\"true\") approves none")
		patchAnnotations(e.ns, "globex", map[string]string{licensingv1alpha1.AnnotationAllowAccessReduction: "true"})
		Eventually(func() string { return testenv.Condition(e.get("globex").Status.Conditions, "Ready").Message }, eventually).
			Should(ContainSubstring("approves another change (true)"))
		Consistently(func() string { return s.record(lic1).Status }, 2*time.Second).Should(Equal("Active"))

		By("the approval that names the held change applies it")
		patchAnnotations(e.ns, "globex", map[string]string{licensingv1alpha1.AnnotationAllowAccessReduction: held.Approval})
		Eventually(func(g Gomega) {
			rec := s.record(lic1)
			g.Expect(rec.Status).To(Equal("Suspended"))
			g.Expect(*rec.Seats).To(BeEquivalentTo(5))
		}, eventually).Should(Succeed())
		Eventually(func() *licensingv1alpha1.HeldChange { return e.get("globex").Status.HeldChange }, eventually).Should(BeNil())
	})

	It("binds an approval to one change: the approval of generation N does not approve generation N+1's reduction", func() {
		e.license("globex", func(l *licensingv1alpha1.License) {
			l.Spec.SubscriberOrgID = globex
			l.Spec.Seats = ptr.To(intstr.FromInt(5)) // 12 in use
		})
		var first *licensingv1alpha1.HeldChange
		Eventually(func(g Gomega) {
			first = e.get("globex").Status.HeldChange
			g.Expect(first).NotTo(BeNil())
		}, eventually).Should(Succeed())
		patchAnnotations(e.ns, "globex", map[string]string{licensingv1alpha1.AnnotationAllowAccessReduction: first.Approval})
		Eventually(func() any { return *s.record(lic1).Seats }, eventually).Should(BeEquivalentTo(5))

		generation := e.get("globex").Generation
		// The controller writes status meanwhile: retry the update on a conflict.
		Eventually(func() error {
			l := e.get("globex")
			l.Spec.Seats = ptr.To(intstr.FromInt(3))
			return k8sClient.Update(ctx, l)
		}, eventually).Should(Succeed())
		var second *licensingv1alpha1.HeldChange
		Eventually(func(g Gomega) {
			l := e.get("globex")
			g.Expect(l.Generation).To(Equal(generation + 1))
			g.Expect(l.Status.ObservedGeneration).To(Equal(l.Generation))
			second = l.Status.HeldChange
			g.Expect(second).NotTo(BeNil())
			reason := testenv.Condition(l.Status.Conditions, "Ready").Reason
			g.Expect(reason).To(Equal("AccessReductionHeld"))
		}, eventually).Should(Succeed())
		Expect(second.Approval).NotTo(Equal(first.Approval))
		Consistently(func() any { return *s.record(lic1).Seats }, 2*time.Second).Should(BeEquivalentTo(5))
		Eventually(func() []string { return events(e.ns, "globex") }, eventually).
			Should(ContainElement(ContainSubstring(second.Approval)), "the new held change is announced with its own approval")
	})

	It("suspends the record on delete with deletionPolicy Suspend, once approved", func() {
		e.license("globex", func(l *licensingv1alpha1.License) {
			l.Spec.SubscriberOrgID = globex
			l.Spec.DeletionPolicy = licensingv1alpha1.DeletionPolicySuspend
		})
		Eventually(func(g Gomega) {
			g.Expect(e.get("globex").Finalizers).To(ContainElement(licensingv1alpha1.FinalizerLicense))
		}, eventually).Should(Succeed())
		Expect(k8sClient.Delete(ctx, e.get("globex"))).To(Succeed())
		Eventually(func(g Gomega) {
			reason := testenv.Condition(e.get("globex").Status.Conditions, "Stalled").Reason
			g.Expect(reason).To(Equal("AccessReductionHeld"))
		}, eventually).Should(Succeed())
		Expect(s.record(lic1).Status).To(Equal("Active"))
		held := e.get("globex").Status.HeldChange
		Expect(held).NotTo(BeNil())
		Expect(held.Reductions).To(Equal([]string{"status Active to Suspended"}))
		patchAnnotations(e.ns, "globex", map[string]string{licensingv1alpha1.AnnotationAllowAccessReduction: held.Approval})
		Eventually(func() string { return s.record(lic1).Status }, eventually).Should(Equal("Suspended"))
		Eventually(func() bool {
			var l licensingv1alpha1.License
			return client.IgnoreNotFound(k8sClient.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: "globex"}, &l)) == nil && l.Name == ""
		}, eventually).Should(BeTrue())
	})

	It("refuses to set a Subscriber-to-LMO feature parameter", func() {
		e.license("globex", func(l *licensingv1alpha1.License) {
			l.Spec.SubscriberOrgID = globex
			l.Spec.FeatureParameters = []licensingv1alpha1.FeatureParameterValue{{Name: "acme__ActiveUsers", Integer: ptr.To[int64](1)}}
		})
		Eventually(func(g Gomega) {
			l := e.get("globex")
			reason := testenv.Condition(l.Status.Conditions, "Stalled").Reason
			g.Expect(reason).To(Equal("ReadOnlyParameter"))
			g.Expect(l.Status.Observed).NotTo(BeNil())
			g.Expect(l.Status.Observed.FeatureParameters).To(ContainElement(licensingv1alpha1.ObservedFeatureParameter{
				Name: "acme__ActiveUsers", Direction: "Subscriber to LMO", Value: "11"}))
		}, eventually).Should(Succeed())
	})
})

var _ = Describe("API calls", func() {
	It("sync 500 Licenses that all need a seats change with 3 Collections calls, and then one call per poll", func() {
		var b strings.Builder
		for i := 0; i < 500; i++ {
			fmt.Fprintf(&b, "  - {id: a0N%012dAAA, subscriberOrgID: 00D%012dAAA, packageID: 033000000000001AAA, status: Active, seats: 10, expiration: \"2027-06-30\"}\n", i+100, i+100)
		}
		s := startSim(baseSeed(b.String(), ""))
		e := newEnv(s)
		for i := 0; i < 500; i++ {
			e.license(fmt.Sprintf("customer-%d", i), func(l *licensingv1alpha1.License) {
				l.Spec.SubscriberOrgID = fmt.Sprintf("00D%012dAAA", i+100)
				l.Spec.Seats = ptr.To(intstr.FromInt(20))
			})
		}
		Eventually(func(g Gomega) {
			var list licensingv1alpha1.LicenseList
			g.Expect(k8sClient.List(ctx, &list, client.InNamespace(e.ns))).To(Succeed())
			ready := 0
			for _, l := range list.Items {
				if st := testenv.Condition(l.Status.Conditions, "Ready").Status; st == metav1.ConditionTrue {
					ready++
				}
			}
			g.Expect(ready).To(Equal(500))
		}, 90*time.Second, time.Second).Should(Succeed())
		calls := s.Stats().Calls
		GinkgoWriter.Printf("calls: %v, records written: %d\n", calls, s.Stats().RecordsWritten)
		Expect(s.Stats().RecordsWritten).To(BeEquivalentTo(500), "each License written once")
		// One token; the load is two Composite calls (the org checks, packages and licenses; then the
		// feature parameters and their values); the writes are 500/200 = 3 Collections calls.
		Expect(calls["token"]).To(BeEquivalentTo(2), "the operator's token and the test reader's")
		Expect(calls["collectionsPatch"]).To(BeEquivalentTo(3))
		for _, kind := range []string{"describe", "limits", "query", "queryMore", "rowGet", "rowPatch"} {
			Expect(calls[kind]).To(BeZero(), kind)
		}
		// Every Composite call after the two of the load is a poll (one per 10s).
		before := calls["composite"]
		Expect(before).To(BeNumerically(">=", 2))
		Expect(before).To(BeNumerically("<=", 2+10))
		time.Sleep(31 * time.Second)
		after := s.Stats().Calls
		polls := after["composite"] - before
		Expect(polls).To(BeNumerically(">=", 2))
		Expect(polls).To(BeNumerically("<=", 4))
		Expect(after["collectionsPatch"]).To(BeEquivalentTo(3), "a steady state writes nothing")
		Expect(after["query"] + after["queryMore"] + after["rowGet"]).To(BeZero())
	})
})

var _ = Describe("Two Licenses for one record", func() {
	It("lets only the oldest write, names it on the other, and hands over when it is deleted", func() {
		s := startSim(baseSeed(seedLicenses, ""))
		e := newEnv(s)
		e.license("globex-imported", func(l *licensingv1alpha1.License) {
			l.Spec.SubscriberOrgID = globex
			l.Spec.Seats = ptr.To(intstr.FromInt(60))
		})
		e.waitReady("globex-imported")
		// creationTimestamp has a resolution of one second: make the copy clearly younger.
		time.Sleep(1100 * time.Millisecond)
		e.license("globex", func(l *licensingv1alpha1.License) {
			l.Spec.LicenseID = lic1[:15]
			l.Spec.Seats = ptr.To(intstr.FromInt(70))
		})
		Eventually(func(g Gomega) {
			l := e.get("globex")
			reason := testenv.Condition(l.Status.Conditions, "Stalled").Reason
			g.Expect(reason).To(Equal("DuplicateLicense"))
			g.Expect(testenv.Condition(l.Status.Conditions, "Stalled").Message).To(ContainSubstring("globex-imported"))
		}, eventually).Should(Succeed())
		Consistently(func() float64 { return s.seats(lic1) }, 3*time.Second).Should(BeEquivalentTo(60))
		st := testenv.Condition(e.get("globex-imported").Status.Conditions, "Ready").Status
		Expect(st).To(Equal(metav1.ConditionTrue))

		Expect(k8sClient.Delete(ctx, e.get("globex-imported"))).To(Succeed())
		Eventually(func() float64 { return s.seats(lic1) }, eventually).Should(BeEquivalentTo(70))
		e.waitReady("globex")
	})
})
