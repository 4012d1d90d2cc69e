package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/lmo-operator/lmo-operator/internal/lmosim"
)

// The mirror reads each license's record type (the status the LMA page shows) with its status, and
// sees it disagree when an API status write leaves it behind.
func TestTheMirrorReadsTheRecordType(t *testing.T) {
	t.Parallel()
	seed := strings.Replace(simSeed, "apiDailyLimit: 1000", "apiDailyLimit: 1000\napiWritesKeepRecordType: true", 1)
	env := startSimSeedWith(t, seed, lmosim.Options{}, nil, func(c *Config) { c.PollInterval = 500 * time.Millisecond })
	if l, _ := env.eng.License(licA); l.RecordType != "Active" {
		t.Errorf("record type of %s = %q, want Active", licA, l.RecordType)
	}
	suspended := "Suspended"
	if _, err := env.eng.Submit(Write{LicenseID: licA, Status: &suspended}); err != nil {
		t.Fatal(err)
	}
	env.waitFor(15*time.Second, "the status write to be mirrored", func() (bool, string) {
		l, _ := env.eng.License(licA)
		return l.Status == "Suspended", env.eng.Status().Error
	})
	if l, _ := env.eng.License(licA); l.RecordType != "Active" {
		t.Errorf("record type after the write = %q, want Active (left behind)", l.RecordType)
	}
}

// A license whose License Type marks it as one the LMA does not let anyone modify (AppExchange
// Checkout's) is mirrored with the reason, and the engine never sends a write to it.
func TestANotEditableLicenseIsNeverWritten(t *testing.T) {
	t.Parallel()
	seed := strings.Replace(simSeed, "subscriberOrgID: 00D5g000004AbC2AAA, packageID: 033000000000001AAA, status: Active,",
		"subscriberOrgID: 00D5g000004AbC2AAA, packageID: 033000000000001AAA, status: Active, licenseType: Read-Only,", 1)
	env := startSimSeed(t, seed, lmosim.Options{}, nil)
	l, _ := env.eng.License(licB)
	if !strings.Contains(l.NotEditable, "Read-Only") {
		t.Fatalf("NotEditable of %s = %q, want the reason naming Read-Only", licB, l.NotEditable)
	}
	seats := int64(60)
	if _, err := env.eng.Submit(Write{LicenseID: licB, Seats: &seats}); err == nil || !strings.Contains(err.Error(), "Read-Only") {
		t.Errorf("Submit to a not-editable license: %v, want a refusal naming Read-Only", err)
	}
	time.Sleep(writeQuiet + 500*time.Millisecond)
	if got := env.calls("collectionsPatch") + env.calls("rowPatch"); got != 0 {
		t.Errorf("%d write calls after the refused submit, want 0", got)
	}
}

// An org whose License object has no record types and no License Type field still loads and polls:
// the engine leaves the absent fields out of its queries, and every license counts as editable.
func TestAnLMOWithoutRecordTypesOrLicenseTypeLoadsAndPolls(t *testing.T) {
	t.Parallel()
	seed := strings.Replace(simSeed, "apiDailyLimit: 1000", "apiDailyLimit: 1000\nrecordTypes: false\nlicenseTypeField: false", 1)
	env := startSimSeedWith(t, seed, lmosim.Options{}, nil, func(c *Config) { c.PollInterval = 500 * time.Millisecond })
	l, ok := env.eng.License(licB)
	if !ok || l.RecordType != "" || l.NotEditable != "" {
		t.Fatalf("license %s: found %v, record type %q, not editable %q", licB, ok, l.RecordType, l.NotEditable)
	}
	env.personSetsSeats(licB, 34)
	env.waitFor(5*time.Second, "a poll to mirror the edit", func() (bool, string) {
		return env.mirrorSeats(licB) == 34, env.eng.Status().Error
	})
	seats := int64(51)
	if _, err := env.eng.Submit(Write{LicenseID: licB, Seats: &seats}); err != nil {
		t.Fatal(err)
	}
	env.waitFor(15*time.Second, "the write", func() (bool, string) { return env.seatsOf(licB) == 51, env.eng.Status().Error })
}

// A license AppExchange Checkout takes over while a write to it waits in the queue is not written:
// the write is decided again when it is sent, against the mirror the poll brought up to date.
func TestAQueuedWriteIsDroppedWhenCheckoutTakesTheLicenseOver(t *testing.T) {
	t.Parallel()
	env := startSimSeedWith(t, simSeed, lmosim.Options{}, nil, func(c *Config) { c.PollInterval = 500 * time.Millisecond })
	seats := int64(61)
	if _, err := env.eng.Submit(Write{LicenseID: licB, Seats: &seats}); err != nil {
		t.Fatal(err)
	}
	readOnly := "Read-Only"
	if _, err := env.srv.UpdateFromSubscriber(licB, lmosim.SubscriberUpdate{LicenseType: &readOnly}); err != nil {
		t.Fatal(err)
	}
	env.waitFor(5*time.Second, "a poll to mirror the License Type", func() (bool, string) {
		l, _ := env.eng.License(licB)
		return l.NotEditable != "", env.eng.Status().Error
	})
	time.Sleep(writeQuiet + time.Second)
	if got := env.calls("collectionsPatch") + env.calls("rowPatch"); got != 0 || env.seatsOf(licB) != 50 {
		t.Errorf("%d write calls, seats %v; want no write and seats 50", got, env.seatsOf(licB))
	}
	if st := env.eng.WriteState(licB); st.Pending {
		t.Errorf("the write to %s is still pending", licB)
	}
}
