package lmoctl

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lmo-operator/lmo-operator/internal/lmosim"
	"github.com/lmo-operator/lmo-operator/internal/salesforce"
	"github.com/lmo-operator/lmo-operator/internal/testenv/testclock"
)

// reportSim builds a history: the seed at 2026-10-01, an uninstall outside a 30-day window, one
// inside, a Trial to Active edit by a person in the LMO, a new install, and a customer's org
// deleted (Umbrella's, whose license is Active) and another's pending deletion (Oscorp's trial).
func reportSim(t *testing.T) *sim {
	t.Helper()
	clk := testclock.New(time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC))
	s := startSim(t, clk.Now)
	clk.Set(time.Date(2026, 10, 5, 10, 0, 0, 0, time.UTC))
	if _, err := s.Uninstall("a0N000000000010AAA"); err != nil {
		t.Fatal(err)
	}
	clk.Set(time.Date(2026, 11, 10, 10, 0, 0, 0, time.UTC))
	if _, err := s.Uninstall("a0N000000000006AAA"); err != nil {
		t.Fatal(err)
	}
	clk.Set(time.Date(2026, 11, 12, 15, 0, 0, 0, time.UTC))
	admin, err := salesforce.New(context.Background(), salesforce.Config{InstanceURL: s.url,
		ClientCredentials: &salesforce.ClientCredentials{ClientID: "lmo-admin", ClientSecret: "admin-secret-value"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.PatchRecord(context.Background(), salesforce.LicenseObject, "a0N000000000005AAA",
		map[string]any{salesforce.FieldStatus: "Active"}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	clk.Set(time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC))
	if _, err := s.Install(lmosim.InstallRequest{PackageID: "033000000000001AAA", SubscriberOrgID: "00D5g000004Zz9ZAAA"}); err != nil {
		t.Fatal(err)
	}
	for id, status := range map[string]string{"a0N000000000003AAA": "DELETED", "a0N000000000004AAA": "PENDING_DELETE"} {
		if _, err := s.UpdateFromSubscriber(id, lmosim.SubscriberUpdate{OrgStatus: &status}); err != nil {
			t.Fatal(err)
		}
	}
	clk.Set(today)
	s.resetStats(t)
	return s
}

func TestReportTable(t *testing.T) {
	s := reportSim(t)
	r := s.run(t, "report")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	golden(t, "report", r.stdout)
	s.assertNoWrites(t)
}

func TestReportJSONFigures(t *testing.T) {
	s := reportSim(t)
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
	rep := decode()
	wantBase := []PackageInstallBase{
		{PackageID: "033000000000001AAA", Name: "Acme Projects", Trial: 2, Active: 5, Suspended: 1, Uninstalled: 3, Expired: 1, Sandbox: 1, OrgDeleted: 2, Total: 11},
		{PackageID: "033000000000002AAA", Name: "Acme Billing", Trial: 1, Active: 1, Total: 2},
	}
	if diff := cmp.Diff(wantBase, rep.InstallBase); diff != "" {
		t.Errorf("install base (-want +got):\n%s", diff)
	}
	ids := func(refs []LicenseRef) (out []string) {
		for _, r := range refs {
			out = append(out, r.LicenseID+"@"+r.Expiration)
		}
		return out
	}
	// Oscorp's trial ends in 5 days, but its org is pending deletion: it is churn, not a trial ending.
	if diff := cmp.Diff([]string(nil), ids(rep.TrialsEnding7Days)); diff != "" {
		t.Errorf("trials ending in 7 days (-want +got):\n%s", diff)
	}
	if len(rep.TrialsEnding30Days) != 2 || rep.TrialsEnding30Days[0].LicenseID != "a0N000000000012AAA" ||
		rep.TrialsEnding30Days[0].Customer != "Müller & Söhne GmbH" ||
		rep.TrialsEnding30Days[1].Expiration != "2026-12-15" || rep.TrialsEnding30Days[1].DaysLeft != 20 {
		t.Errorf("trials ending in 30 days: %+v", rep.TrialsEnding30Days)
	}
	if diff := cmp.Diff([]OrgDeletion{
		{LicenseID: "a0N000000000003AAA", PackageID: "033000000000001AAA", SubscriberOrgID: "00D5g000004Gl0bAAA", Customer: "Umbrella Corp.", Status: "Active", OrgStatus: "DELETED"},
		{LicenseID: "a0N000000000004AAA", PackageID: "033000000000001AAA", SubscriberOrgID: "00D5g000004Ini7AAA", Customer: "Oscorp", Status: "Trial", OrgStatus: "PENDING_DELETE"},
	}, rep.OrgDeletions); diff != "" {
		t.Errorf("org deletions (-want +got):\n%s", diff)
	}
	if rep.Conversions[0].Customer != "Soylent" {
		t.Errorf("conversion customer %q, want Soylent", rep.Conversions[0].Customer)
	}
	changes := func(cs []StatusChange) (out []string) {
		for _, c := range cs {
			out = append(out, c.LicenseID+" "+c.At.Truncate(time.Minute).Format(time.RFC3339)+" "+c.By+" "+c.Source)
		}
		return out
	}
	if diff := cmp.Diff([]string{"a0N000000000006AAA 2026-11-10T10:00:00Z License Manager history"}, changes(rep.Uninstalls)); diff != "" {
		t.Errorf("uninstalls in 30 days (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a0N000000000005AAA 2026-11-12T15:00:00Z Dana Admin history"}, changes(rep.Conversions)); diff != "" {
		t.Errorf("conversions in 30 days (-want +got):\n%s", diff)
	}

	// 60 days reach the seeded Uninstalled record (no history row: counted by LastModifiedDate) and
	// the October uninstall.
	rep = decode("--window", "60d", "--package", "033000000000001")
	if diff := cmp.Diff([]string{
		"a0N000000000007AAA 2026-09-30T09:00:00Z License Manager lastModified",
		"a0N000000000010AAA 2026-10-05T10:00:00Z License Manager history",
		"a0N000000000006AAA 2026-11-10T10:00:00Z License Manager history",
	}, changes(rep.Uninstalls)); diff != "" {
		t.Errorf("uninstalls in 60 days (-want +got):\n%s", diff)
	}
	if len(rep.InstallBase) != 1 || rep.InstallBase[0].PackageID != "033000000000001AAA" {
		t.Errorf("--package: install base %+v", rep.InstallBase)
	}
	if rep.Window != "60d" || !rep.WindowStart.Equal(today.Add(-60*24*time.Hour)) {
		t.Errorf("window %q from %v", rep.Window, rep.WindowStart)
	}
	s.assertNoWrites(t)
}

func TestReportRefusesABadWindow(t *testing.T) {
	s := startSim(t, func() time.Time { return today })
	for _, w := range []string{"0d", "abc", "-5h"} {
		if r := s.run(t, "report", "--window", w); r.code != ExitError || !strings.Contains(r.stderr, "--window") {
			t.Errorf("--window %s: exit %d, %q", w, r.code, r.stderr)
		}
	}
}
