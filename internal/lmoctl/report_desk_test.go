package lmoctl

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// deskSeed has trials and paid licenses at chosen distances from today (2026-11-25).
func deskSeed() []byte {
	at := func(days int) string { return today.AddDate(0, 0, days).Format("2006-01-02") }
	lic := func(n int, status string, expiration string) string {
		return fmt.Sprintf("  - {id: a0N0000000001%02dAAA, subscriberOrgID: 00D5g00000D%04dAAA, packageID: 033000000000001AAA, status: %s, seats: 10, expiration: %s, usedLicenses: 1}\n",
			n, n, status, expiration)
	}
	return []byte(`
organization: {id: 00D000000000001AAA, name: Acme ISV, edition: Enterprise Edition, isSandbox: false}
clients:
  - {clientID: lmo-operator, clientSecret: test-secret-value, username: integration@acme.example, name: Integration User}
packages:
  - {packageID: 033000000000001AAA, name: Acme Projects, latestVersion: "1.4.0", defaults: {status: Trial, trialDays: 30, seats: 10}}
licenses:
` + lic(1, "Trial", `"`+at(3)+`"`) + // ends in 3 days
		lic(2, "Trial", `"`+at(20)+`"`) + // ends in 20 days
		lic(3, "Trial", `"`+at(-5)+`"`) + // lapsed 5 days ago, still a trial
		lic(4, "Trial", `"`+at(-45)+`"`) + // lapsed 45 days ago
		lic(5, "Active", `"`+at(360)+`"`) + // converted: paid for a year
		lic(6, "Active", `"`+at(10)+`"`) + // renewal in 10 days
		lic(7, "Active", `"`+at(30)+`"`) + // renewal in 30 days: the window's last day
		lic(8, "Active", `"`+at(31)+`"`) + // renewal in 31 days
		lic(9, "Active", "null") + // does not expire
		lic(10, "Active", `"`+at(-3)+`"`) + // a paid license that already expired
		lic(11, "Suspended", `"`+at(-2)+`"`) + // a suspended trial is not a lapsed one
		lic(12, "Uninstalled", `"`+at(5)+`"`)) // uninstalled: nothing to renew
}

func TestReportTrialsLapsedAndRenewalsDue(t *testing.T) {
	s := startSimYAML(t, deskSeed(), func() time.Time { return today })
	decode := func(args ...string) Report {
		t.Helper()
		r := s.run(t, append([]string{"report", "-o", "json"}, args...)...)
		if r.code != ExitOK {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var rep Report
		dec := json.NewDecoder(strings.NewReader(r.stdout))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rep); err != nil {
			t.Fatal(err)
		}
		return rep
	}
	refs := func(list []LicenseRef) (out []string) {
		for _, r := range list {
			out = append(out, fmt.Sprintf("%s %s %s %d", r.LicenseID, r.Name, r.SubscriberOrgID, r.DaysLeft))
		}
		return out
	}
	rep := decode()
	if diff := cmp.Diff([]string{"a0N000000000101AAA L-00001 00D5g00000D0001AAA 3"}, refs(rep.TrialsEnding7Days)); diff != "" {
		t.Errorf("trials ending in 7 days (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a0N000000000101AAA L-00001 00D5g00000D0001AAA 3", "a0N000000000102AAA L-00002 00D5g00000D0002AAA 20"},
		refs(rep.TrialsEnding30Days)); diff != "" {
		t.Errorf("trials ending in 30 days (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a0N000000000103AAA L-00003 00D5g00000D0003AAA -5"}, refs(rep.TrialsLapsed)); diff != "" {
		t.Errorf("trials lapsed in the window without converting (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a0N000000000106AAA L-00006 00D5g00000D0006AAA 10", "a0N000000000107AAA L-00007 00D5g00000D0007AAA 30"},
		refs(rep.RenewalsDue)); diff != "" {
		t.Errorf("paid licenses up for renewal in the window (-want +got):\n%s", diff)
	}

	rep = decode("--window", "60d")
	if diff := cmp.Diff([]string{"a0N000000000104AAA L-00004 00D5g00000D0004AAA -45", "a0N000000000103AAA L-00003 00D5g00000D0003AAA -5"},
		refs(rep.TrialsLapsed)); diff != "" {
		t.Errorf("trials lapsed in 60 days (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a0N000000000106AAA L-00006 00D5g00000D0006AAA 10", "a0N000000000107AAA L-00007 00D5g00000D0007AAA 30",
		"a0N000000000108AAA L-00008 00D5g00000D0008AAA 31"}, refs(rep.RenewalsDue)); diff != "" {
		t.Errorf("renewals in 60 days (-want +got):\n%s", diff)
	}

	r := s.run(t, "report")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	golden(t, "report-desk", r.stdout)
	s.assertNoWrites(t)
}
