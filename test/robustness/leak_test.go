package robustness_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/common/expfmt"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/lmosim"
	"github.com/lmo-operator/lmo-operator/internal/testenv"
)

// Patterns of credentials whatever their value: a Salesforce session id (the org id's 15-character
// form, "!", then the token), a JWT (the bearer assertion), and a PEM private key header.
var credentialPatterns = map[string]*regexp.Regexp{
	"session id":  regexp.MustCompile(`00D[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?![A-Za-z0-9._\-]{16,}`),
	"JWT":         regexp.MustCompile(`eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{16,}`),
	"private key": regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----`),
}

// hexdumpLine is one line of the hexdump client-go logs protobuf bodies as: offset, up to 16 bytes.
var hexdumpLine = regexp.MustCompile(`[0-9a-f]{8}  ((?:[0-9a-f]{2} {1,2}){1,16})`)

// undumpHex returns the bytes of every hexdump in text, so a secret split across dump lines is
// found whole.
func undumpHex(text string) string {
	var b strings.Builder
	for _, m := range hexdumpLine.FindAllStringSubmatch(text, -1) {
		for _, pair := range strings.Fields(m[1]) {
			if v, err := hex.DecodeString(pair); err == nil {
				b.Write(v)
			}
		}
	}
	return b.String()
}

// findLeaks reports every seeded or issued credential in text, also inside hexdumps and in base64,
// and anything shaped like a session id, a JWT or a private key.
func findLeaks(where, text string) []string {
	count := map[string]int{}
	known := secrets.snapshot()
	for _, blob := range []struct{ how, text string }{{"", text}, {" (in a hexdump)", undumpHex(text)}} {
		if blob.text == "" {
			continue
		}
		for value, what := range known {
			if strings.Contains(blob.text, value) {
				count[fmt.Sprintf("%s: %s%s", where, what, blob.how)]++
			}
			if len(value) >= 12 && strings.Contains(blob.text, base64.StdEncoding.EncodeToString([]byte(value))) {
				count[fmt.Sprintf("%s: %s in base64%s", where, what, blob.how)]++
			}
		}
		for name, re := range credentialPatterns {
			for _, m := range re.FindAllString(blob.text, 3) {
				what := "something shaped like a " + name
				if w, ok := known[m]; ok {
					what = w
				}
				count[fmt.Sprintf("%s: %s%s, e.g. %.20s…", where, what, blob.how, m)]++
			}
		}
	}
	var hits []string
	for h, n := range count {
		hits = append(hits, fmt.Sprintf("%s (%d distinct values)", h, n))
	}
	sort.Strings(hits)
	return hits
}

// logsUpTo returns the captured log entries at verbosity v or less (development-mode lines:
// time, level, message; LEVEL(-8) is V(8)).
func logsUpTo(v int) (kept string, dropped int) {
	var b strings.Builder
	keep := true
	for _, line := range strings.Split(logs.String(), "\n") {
		fields := strings.SplitN(line, "\t", 3)
		if len(fields) >= 3 {
			keep = true
			if lvl, ok := strings.CutPrefix(fields[1], "LEVEL("); ok {
				n, _ := strconv.Atoi(strings.TrimSuffix(lvl, ")"))
				keep = -n <= v
			}
		}
		if keep {
			b.WriteString(line)
			b.WriteByte('\n')
		} else {
			dropped++
		}
	}
	return b.String(), dropped
}

func yamlOf(obj any) string {
	GinkgoHelper()
	out, err := yaml.Marshal(obj)
	Expect(err).NotTo(HaveOccurred())
	return string(out)
}

// fetchToken asks a sim for a token as the admin client, over the wire, the way the operator does.
func fetchToken(s *sim) string {
	GinkgoHelper()
	resp, err := http.PostForm(s.url+"/services/oauth2/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {"lmo-admin"}, "client_secret": {adminSecret}})
	Expect(err).NotTo(HaveOccurred())
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	Expect(resp.StatusCode).To(Equal(http.StatusOK), string(body))
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	Expect(json.Unmarshal(body, &tok)).To(Succeed())
	return tok.AccessToken
}

var _ = Describe("Credentials", Ordered, ContinueOnFailure, func() {
	var good, jwtGood *env

	BeforeAll(func() {
		// A good LMO whose tokens expire every 3 seconds (and all at once later), with a License
		// write before and after; a good JWT LMO with a write; a wrong client secret; a JWT key the
		// LMO does not know; a private key that is not a key.
		gs := startSim(baseSeed(seedLicenses))
		Expect(gs.AddFault(lmosim.Fault{ExpireTokensEvery: "3s"})).To(Succeed())
		good = newEnv(gs, "leak-good")
		needsWrite(good)

		js := startSim(baseSeed(seedLicenses))
		jwtGood = newEnv(js, "leak-jwt", useSecret("jwt", true))
		createSecret(jwtGood.ns, "jwt", map[string]string{"client-id": operatorID, "username": jwtUser, "private-key": string(jwtKeyPEM)})
		needsWrite(jwtGood)

		wrongSecret := "wrong-" + randomHex(16)
		secrets.add("wrong client secret", wrongSecret)
		ws := startSim(baseSeed(seedLicenses))
		wrong := newEnv(ws, "leak-wrong-secret", useSecret("wrong", false))
		createSecret(wrong.ns, "wrong", map[string]string{"client-id": operatorID, "client-secret": wrongSecret})
		needsWrite(wrong)

		otherKey, _ := newKeyPair()
		bk := newEnv(ws, "leak-jwt-bad-key", useSecret("jwt", true))
		createSecret(bk.ns, "jwt", map[string]string{"client-id": operatorID, "username": jwtUser, "private-key": string(otherKey)})
		bp := newEnv(ws, "leak-jwt-bad-pem", useSecret("jwt", true))
		createSecret(bp.ns, "jwt", map[string]string{"client-id": operatorID, "username": jwtUser, "private-key": string(garbagePEM())})

		for _, e := range []*env{good, jwtGood} {
			Eventually(func() float64 { return e.sim.seats(lic1) }, eventually).Should(BeEquivalentTo(60), e.ns)
		}
		Eventually(func() string {
			return testenv.Condition(wrong.lmo().Status.Conditions, licensingv1alpha1.ConditionReady).Reason
		}, eventually).Should(Equal(licensingv1alpha1.ReasonAuthenticationFailed))
		Eventually(func() string {
			return testenv.Condition(bk.lmo().Status.Conditions, licensingv1alpha1.ConditionReady).Reason
		}, eventually).Should(Equal(licensingv1alpha1.ReasonAuthenticationFailed))
		Eventually(func() string {
			return testenv.Condition(bp.lmo().Status.Conditions, licensingv1alpha1.ConditionReady).Reason
		}, eventually).Should(Equal(licensingv1alpha1.ReasonSecretInvalid))

		// Let tokens expire under a poll, then all at once, and write again with a fresh token.
		time.Sleep(4 * time.Second)
		Expect(gs.AddFault(lmosim.Fault{ExpireTokensNow: true})).To(Succeed())
		var l licensingv1alpha1.License
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: good.ns, Name: "globex"}, &l)).To(Succeed())
		patch := client.MergeFrom(l.DeepCopy())
		l.Spec.Seats = ptr.To(intstr.FromInt(70))
		Expect(k8sClient.Patch(ctx, &l, patch)).To(Succeed())
		Eventually(func() float64 { return gs.seats(lic1) }, eventually).Should(BeEquivalentTo(70))
		Expect(gs.Stats().Calls["token"]).To(BeNumerically(">=", 2), "the operator never re-authenticated")
		Eventually(func() []string {
			var evs corev1.EventList
			Expect(k8sClient.List(ctx, &evs, client.InNamespace(good.ns))).To(Succeed())
			var out []string
			for _, ev := range evs.Items {
				out = append(out, ev.Reason)
			}
			return out
		}, eventually).Should(ContainElement("LicenseWritten"))
	})

	It("has a scanner that finds what it looks for", func() {
		tok := fetchToken(good.sim)
		Expect(tok).To(HavePrefix("00D000000000001!"), "lmosim's token format changed: update the session id pattern")
		Expect(credentialPatterns["session id"].MatchString(tok)).To(BeTrue())
		Expect(findLeaks("clean", "Connected; the mirror holds the LMO's license records (org 00D000000000001AAA)")).To(BeEmpty())

		keyLine := strings.Split(string(jwtKeyPEM), "\n")[3]
		secretDump := hex.Dump([]byte("\x12#" + operatorSecret + "\x1a\x06Opaque"))
		planted := map[string]string{
			"a client secret":            `{"msg":"oops","secret":"` + operatorSecret + `"}`,
			"a client secret in base64":  `data: {client-secret: ` + base64.StdEncoding.EncodeToString([]byte(operatorSecret)) + `}`,
			"a client secret in hexdump": `"body": "` + strings.ReplaceAll(secretDump, "\n", `\n`) + `"`,
			"a line of the private key":  "key material " + keyLine,
			"an issued access token":     "Authorization: Bearer " + tok,
			"a token never seen before":  "token 00D000000000001!" + strings.Repeat("AbC", 10),
			"a private key header":       "-----BEGIN PRIVATE KEY-----",
		}
		for name, text := range planted {
			Expect(findLeaks("synthetic", text)).NotTo(BeEmpty(), "the scanner missed %s", name)
		}
		Expect(undumpHex(secretDump)).To(ContainSubstring(operatorSecret))
	})

	It("keeps them out of Events", func() {
		var evs corev1.EventList
		Expect(k8sClient.List(ctx, &evs)).To(Succeed())
		Expect(evs.Items).NotTo(BeEmpty())
		Expect(findLeaks("Events", yamlOf(evs))).To(BeEmpty())
	})

	It("keeps them out of the status of every LicenseManagementOrg, ManagedPackage and License", func() {
		var lmos licensingv1alpha1.LicenseManagementOrgList
		var pkgs licensingv1alpha1.ManagedPackageList
		var lics licensingv1alpha1.LicenseList
		Expect(k8sClient.List(ctx, &lmos)).To(Succeed())
		Expect(k8sClient.List(ctx, &pkgs)).To(Succeed())
		Expect(k8sClient.List(ctx, &lics)).To(Succeed())
		Expect(lmos.Items).To(ContainElement(HaveField("Status.Conditions", ContainElement(HaveField("Reason", licensingv1alpha1.ReasonAuthenticationFailed)))))
		Expect(findLeaks("LicenseManagementOrgs", yamlOf(lmos))).To(BeEmpty())
		Expect(findLeaks("ManagedPackages", yamlOf(pkgs))).To(BeEmpty())
		Expect(findLeaks("Licenses", yamlOf(lics))).To(BeEmpty())
	})

	It("keeps them out of the metrics", func() {
		families, err := ctrlmetrics.Registry.Gather()
		Expect(err).NotTo(HaveOccurred())
		var b bytes.Buffer
		for _, mf := range families {
			_, err := expfmt.MetricFamilyToText(&b, mf)
			Expect(err).NotTo(HaveOccurred())
		}
		Expect(b.String()).To(ContainSubstring("lmo_"), "the operator's metrics are not registered")
		Expect(findLeaks("metrics", b.String())).To(BeEmpty())
	})

	It("keeps them out of the logs, at every level up to V(7)", func() {
		text, dropped := logsUpTo(7)
		GinkgoWriter.Printf("scanned %d bytes of logs; %d lines above V(7) left out\n", len(text), dropped)
		Expect(text).To(ContainSubstring("Started the LMO engine"))
		Expect(text).To(ContainSubstring("DEBUG"), "the logs were not captured at debug level")
		Expect(findLeaks("logs", text)).To(BeEmpty())
	})

	// client-go logs response bodies at V(8) and above; the Secret is read with a discarding logger.
	It("keeps them out of the logs at V(8) and above", func() {
		Expect(findLeaks("logs", logs.String())).To(BeEmpty())
	})
})
