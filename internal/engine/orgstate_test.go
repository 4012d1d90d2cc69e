package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/lmo-operator/lmo-operator/internal/lmosim"
)

// The mirror reads the customer behind each license (the account's name, else the lead's
// company) and the subscriber org's state; it never holds the lead's person.
func TestTheMirrorReadsTheCustomerAndTheOrgState(t *testing.T) {
	t.Parallel()
	seed := strings.Replace(simSeed, "subscriberOrgID: 00D5g000004XyZ1AAA, packageID: 033000000000001AAA, status: Active,",
		"subscriberOrgID: 00D5g000004XyZ1AAA, packageID: 033000000000001AAA, status: Active, account: Globex Corporation, orgStatus: ACTIVE,", 1)
	seed = strings.Replace(seed, "subscriberOrgID: 00D5g000004AbC2AAA, packageID: 033000000000001AAA, status: Active,",
		"subscriberOrgID: 00D5g000004AbC2AAA, packageID: 033000000000001AAA, status: Active, lead: {company: Initech, name: Peter Gibbons, email: peter@initech.example}, orgStatus: TRIAL, orgTrialExpiration: \"2026-12-24\",", 1)
	env := startSimSeedWith(t, seed, lmosim.Options{}, nil, func(c *Config) { c.PollInterval = 500 * time.Millisecond })
	a, _ := env.eng.License(licA)
	b, _ := env.eng.License(licB)
	if a.Customer != "Globex Corporation" || a.OrgStatus != "ACTIVE" || a.SubscriberOrgGone != "" {
		t.Errorf("license %s: customer %q, org status %q, gone %q", licA, a.Customer, a.OrgStatus, a.SubscriberOrgGone)
	}
	if b.Customer != "Initech" || b.OrgStatus != "TRIAL" || b.OrgTrialExpiration != "2026-12-24" {
		t.Errorf("license %s: customer %q, org status %q, org trial expiration %q", licB, b.Customer, b.OrgStatus, b.OrgTrialExpiration)
	}
	deleted := "DELETED"
	if _, err := env.srv.UpdateFromSubscriber(licB, lmosim.SubscriberUpdate{OrgStatus: &deleted}); err != nil {
		t.Fatal(err)
	}
	env.waitFor(5*time.Second, "a poll to mirror the deleted org", func() (bool, string) {
		l, _ := env.eng.License(licB)
		return l.SubscriberOrgGone != "", env.eng.Status().Error
	})
	seats := int64(60)
	if _, err := env.eng.Submit(Write{LicenseID: licB, Seats: &seats}); err == nil || !strings.Contains(err.Error(), "DELETED") {
		t.Errorf("Submit to a license whose org is deleted: %v, want a refusal naming DELETED", err)
	}
}

// An LMA without the org status fields still loads: the engine leaves them out of its queries.
func TestAnLMOWithoutOrgStatusFieldsLoadsAndPolls(t *testing.T) {
	t.Parallel()
	seed := strings.Replace(simSeed, "apiDailyLimit: 1000", "apiDailyLimit: 1000\norgStatusFields: false", 1)
	env := startSimSeedWith(t, seed, lmosim.Options{}, nil, func(c *Config) { c.PollInterval = 500 * time.Millisecond })
	if l, ok := env.eng.License(licB); !ok || l.OrgStatus != "" {
		t.Fatalf("license %s: found %v, org status %q", licB, ok, l.OrgStatus)
	}
	seats := int64(51)
	if _, err := env.eng.Submit(Write{LicenseID: licB, Seats: &seats}); err != nil {
		t.Fatal(err)
	}
	env.waitFor(15*time.Second, "the write", func() (bool, string) { return env.seatsOf(licB) == 51, env.eng.Status().Error })
}
