package robustness_test

import (
	"fmt"
	"regexp"
	"strings"
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

// hostile is one LMO whose Composite answers carry corrupt query pages. Every read the operator
// makes is a Composite call: the full load (with the Organization read and the describes of the
// LMA and FMA objects) and every poll.
type hostile struct {
	mode string
	// want is what the LicenseManagementOrg's Ready message must say besides "malformed response".
	want string
	env  *env
}

func (h *hostile) String() string { return h.mode }

// hugeBodyBytes is the size of the hugeBody answers: 50 MB, over the client's 32 MiB cap.
const hugeBodyBytes = 50 << 20

func hostileCases() []*hostile {
	return []*hostile{
		{mode: "invalidJSON", want: "composite response: invalid JSON"},
		{mode: "wrongTypes", want: `field "totalSize" has the wrong type`},
		{mode: "hugeBody", want: "byte cap"},
		{mode: "endlessPaging", want: "records received but totalSize is"},
		{mode: "duplicateIds", want: "records received but totalSize is"},
	}
}

func corrupt(mode string) lmosim.Fault {
	return lmosim.Fault{Operation: "composite", Corrupt: mode, HugeBodyBytes: hugeBodyBytes}
}

// notReady is how a LicenseManagementOrg facing a hostile LMO must look: Ready False, not Stalled
// (it retries), and a message that names the malformed answer.
func notReady(g Gomega, e *env, want string) metav1.Condition {
	lmo := e.lmo()
	ready := testenv.Condition(lmo.Status.Conditions, licensingv1alpha1.ConditionReady)
	g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
	g.Expect(ready.Message).To(ContainSubstring("malformed response"))
	g.Expect(ready.Message).To(ContainSubstring(want))
	// Stalled is present only while True.
	g.Expect(testenv.Condition(lmo.Status.Conditions, licensingv1alpha1.ConditionStalled).Status).To(BeEmpty())
	return ready
}

func needs60(e *env) {
	GinkgoHelper()
	e.license("globex", func(l *licensingv1alpha1.License) {
		l.Spec.SubscriberOrgID = globex
		l.Spec.Seats = ptr.To(intstr.FromInt(60))
	})
}

// reconnectDelays returns the "after" of every "LMO session ended; reconnecting" log line of the
// namespace's engine, in order, from the captured log starting at offset.
func reconnectDelays(ns string, offset int) []string {
	var out []string
	re := regexp.MustCompile(`"after": "([^"]+)"`)
	text := logs.String()
	if offset > len(text) {
		offset = len(text)
	}
	for _, line := range strings.Split(text[offset:], "\n") {
		if strings.Contains(line, "LMO session ended; reconnecting") && strings.Contains(line, `"namespace": "`+ns+`"`) {
			if m := re.FindStringSubmatch(line); m != nil {
				out = append(out, m[1])
			}
		}
	}
	return out
}

var _ = Describe("Hostile LMO answers", Ordered, ContinueOnFailure, func() {
	// All six LMOs run at once, each in its own namespace with a License that needs a write (seats
	// 50 → 60) and the fault in place before the LicenseManagementOrg exists; the steps below look at
	// all of them, so the faults last seconds, not minutes, and the reconnect backoff stays short.
	cases := hostileCases()
	byName := map[string]*hostile{}
	var entries []TableEntry
	for _, h := range cases {
		byName[h.mode] = h
		entries = append(entries, Entry(h.mode, h.mode))
	}
	var queryFaulted *env

	BeforeAll(func() {
		for _, h := range cases {
			s := startSim(baseSeed(seedLicenses))
			Expect(s.AddFault(corrupt(h.mode))).To(Succeed())
			h.env = newEnv(s, "hostile-"+strings.ToLower(h.mode))
			needs60(h.env)
		}
		// Plain query calls, corrupt in every mode at once: the operator makes none.
		s := startSim(baseSeed(seedLicenses))
		for _, h := range cases {
			f := corrupt(h.mode)
			f.Operation = "query"
			Expect(s.AddFault(f)).To(Succeed())
		}
		s.ResetStats()
		queryFaulted = newEnv(s, "hostile-query")
		needs60(queryFaulted)
	})

	DescribeTable("the LicenseManagementOrg says what is wrong with the answer",
		func(name string) {
			h := byName[name]
			Eventually(func(g Gomega) {
				ready := notReady(g, h.env, h.want)
				GinkgoWriter.Printf("%s: Ready %s %s: %s\n", name, ready.Status, ready.Reason, ready.Message)
			}, eventually).Should(Succeed())
		},
		entries)

	It("writes nothing while the License needs a change", func() {
		Consistently(func(g Gomega) {
			for _, h := range cases {
				g.Expect(h.env.sim.writes()).To(BeZero(), "%s: write calls or records written", h)
				g.Expect(h.env.sim.seats(lic1)).To(BeEquivalentTo(50), "%s", h)
			}
		}, 3*time.Second, 500*time.Millisecond).Should(Succeed())
		for _, h := range cases {
			// Not Ready; no condition at all, in fact (see the BUG spec in brokeninput_test.go).
			ready := testenv.Condition(h.env.get("globex").Status.Conditions, licensingv1alpha1.ConditionReady)
			Expect(ready.Status).NotTo(Equal(metav1.ConditionTrue), "%s", h)
		}
	})

	It("keeps reconciling the other namespaces", func() {
		expectManagerRunning()
	})

	It("is not reached by corrupt answers to plain query calls: it reads only through Composite", func() {
		Eventually(func(g Gomega) {
			g.Expect(testenv.Condition(queryFaulted.lmo().Status.Conditions, licensingv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
			g.Expect(queryFaulted.sim.seats(lic1)).To(BeEquivalentTo(60))
		}, eventually).Should(Succeed())
		st := queryFaulted.sim.Stats()
		Expect(st.Calls["query"] + st.Calls["queryMore"]).To(BeZero())
		Expect(st.Calls["composite"]).To(BeNumerically(">=", 1))
	})

	It("recovers once the LMO answers properly again", func() {
		start := time.Now()
		for _, h := range cases {
			h.env.sim.ClearFaults()
		}
		for _, h := range cases {
			Eventually(func(g Gomega) {
				g.Expect(testenv.Condition(h.env.lmo().Status.Conditions, licensingv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
				g.Expect(h.env.sim.seats(lic1)).To(BeEquivalentTo(60))
				g.Expect(testenv.Condition(h.env.get("globex").Status.Conditions, licensingv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
			}, 45*time.Second).Should(Succeed(), fmt.Sprintf("%s did not recover", h))
		}
		GinkgoWriter.Printf("all recovered %s after the faults were cleared\n", time.Since(start))
	})

	// Once a session has loaded, the reconnect backoff starts over: a blip after an outage costs
	// 2 s, not the next step of the old outage.
	It("reconnects quickly after a blip once it has recovered from an outage", func() {
		h := byName["invalidJSON"]
		before := reconnectDelays(h.env.ns, 0)
		Expect(before).NotTo(BeEmpty())
		offset := len(logs.String())
		f := corrupt("invalidJSON")
		f.Count = 1
		Expect(h.env.sim.AddFault(f)).To(Succeed())
		var after []string
		Eventually(func() []string { after = reconnectDelays(h.env.ns, offset); return after }, 10*time.Second+eventually).ShouldNot(BeEmpty())
		GinkgoWriter.Printf("reconnect delays during the outage %v; after one blip once recovered: %s\n", before, after[0])
		Expect(after[0]).To(Equal("2s"))
	})
})

// Once the mirror is loaded, a corrupt poll must not reach it: a person edits the record in the LMO
// while every poll answer is corrupt; the operator neither sees nor "corrects" anything until the
// answers are sound again, and then restores the spec.
var _ = Describe("Hostile poll answers after the mirror is loaded", Ordered, ContinueOnFailure, func() {
	cases := hostileCases()

	BeforeAll(func() {
		for _, h := range cases {
			h.env = newEnv(startSim(baseSeed(seedLicenses)), "hostile-poll-"+strings.ToLower(h.mode))
			needs60(h.env)
		}
		for _, h := range cases {
			Eventually(func(g Gomega) {
				g.Expect(h.env.sim.seats(lic1)).To(BeEquivalentTo(60))
				g.Expect(testenv.Condition(h.env.get("globex").Status.Conditions, licensingv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
			}, eventually).Should(Succeed(), "%s", h)
		}
		for _, h := range cases {
			Expect(h.env.sim.AddFault(corrupt(h.mode))).To(Succeed())
			h.env.sim.edit(lic1, map[string]any{"sfLma__Seats__c": 5})
			h.env.sim.ResetStats()
		}
	})

	It("says so", func() {
		for _, h := range cases {
			Eventually(func(g Gomega) { notReady(g, h.env, h.want) }, 10*time.Second+eventually).Should(Succeed(), "%s", h)
		}
	})

	It("neither writes nor lets the corrupt answer into the mirror", func() {
		Consistently(func(g Gomega) {
			for _, h := range cases {
				g.Expect(h.env.sim.writes()).To(BeZero(), "%s", h)
				g.Expect(h.env.sim.seats(lic1)).To(BeEquivalentTo(5), "%s", h)
				l := h.env.get("globex")
				g.Expect(l.Status.Observed).NotTo(BeNil())
				g.Expect(l.Status.Observed.Seats).To(Equal(ptr.To(intstr.FromInt(60))), "%s: the mirror changed", h)
				g.Expect(l.Status.Observed.Status).To(Equal(licensingv1alpha1.LicenseStatusActive), "%s", h)
			}
		}, 2*time.Second, 500*time.Millisecond).Should(Succeed())
	})

	It("restores the spec once the answers are sound", func() {
		start := time.Now()
		for _, h := range cases {
			h.env.sim.ClearFaults()
		}
		for _, h := range cases {
			Eventually(func() float64 { return h.env.sim.seats(lic1) }, 45*time.Second).Should(BeEquivalentTo(60), "%s", h)
		}
		GinkgoWriter.Printf("all restored %s after the faults were cleared\n", time.Since(start))
	})
})

// A status outside the four the operator knows is a value Salesforce can hold (the Status picklist
// is not restricted): the LMO loads, each odd record is quarantined (never written, the License bound
// to it Stalled naming the field and value), and once the record is readable again the License
// proceeds.
var _ = Describe("An LMO answering a status the operator does not know", Ordered, func() {
	var e *env
	BeforeAll(func() {
		s := startSim(baseSeed(seedLicenses))
		Expect(s.AddFault(corrupt("unknownPicklist"))).To(Succeed())
		e = newEnv(s, "unknown-status")
		needs60(e)
	})

	It("loads, and stalls only the License of the unreadable record, writing nothing", func() {
		Eventually(func(g Gomega) {
			g.Expect(testenv.Condition(e.lmo().Status.Conditions, licensingv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
			l := e.get("globex")
			stalled := testenv.Condition(l.Status.Conditions, licensingv1alpha1.ConditionStalled)
			g.Expect(stalled.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(stalled.Reason).To(Equal(licensingv1alpha1.ReasonUnreadableRecord))
			g.Expect(stalled.Message).To(ContainSubstring(`"Pending Review"`))
		}, eventually).Should(Succeed())
		Consistently(func() int64 { return e.sim.writes() }, 2*time.Second, 500*time.Millisecond).Should(BeZero())
	})

	It("writes once the record reads again", func() {
		e.sim.ClearFaults()
		e.sim.edit(lic1, map[string]any{"sfLma__Seats__c": 5})
		Eventually(func() float64 { return e.sim.seats(lic1) }, 45*time.Second).Should(BeEquivalentTo(60))
	})
})
