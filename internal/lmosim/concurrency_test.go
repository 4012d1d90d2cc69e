package lmosim

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

// TestConcurrentUse runs writers, pollers, admin calls and state saves together; run with -race.
func TestConcurrentUse(t *testing.T) {
	e := newEnv(t, testSeed+"generate:\n  - {packageID: 033000000000001AAA, count: 300}\n", Options{StatePath: filepath.Join(t.TempDir(), "s.json")})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				switch w {
				case 0:
					e.call("PATCH", "sobjects/"+objLicense+"/"+licActive, fmt.Sprintf(`{"sfLma__Seats__c": %d}`, 10+i))
				case 1:
					e.query("SELECT Id, SystemModstamp FROM sfLma__License__c WHERE SystemModstamp > 2026-11-25T00:00:00Z ORDER BY SystemModstamp")
				case 2:
					e.call("PATCH", "composite/sobjects", map[string]any{"records": []any{map[string]any{"id": licTrial, "sfLma__Seats__c": 20 + i}}})
				case 3:
					_, _ = e.srv.Install(InstallRequest{PackageID: "033000000000001AAA", SubscriberOrgID: fmt.Sprintf("00D5g00000%05dAAA", i)})
					e.srv.Stats()
				}
			}
		}(w)
	}
	wg.Wait()
	if l, _ := e.srv.GetLicense(licActive); l.Seats != 29 {
		t.Errorf("seats %v, want 29", l.Seats)
	}
}
