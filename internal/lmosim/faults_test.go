package lmosim

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestFaults(t *testing.T) {
	const q = "SELECT Id, sfLma__Seats__c, sfLma__Status__c FROM sfLma__License__c"
	t.Run("latency delays matching calls only", func(t *testing.T) {
		e := newEnv(t, testSeed, Options{})
		e.admin("POST", "faults", Fault{Operation: "query", LatencyMs: 300})
		start := time.Now()
		e.call("GET", "limits", nil)
		if d := time.Since(start); d > 250*time.Millisecond {
			t.Errorf("limits took %v", d)
		}
		start = time.Now()
		e.query(q)
		if d := time.Since(start); d < 300*time.Millisecond {
			t.Errorf("query took %v, want at least 300ms", d)
		}
	})
	t.Run("an error status answers with the error array and count limits it", func(t *testing.T) {
		e := newEnv(t, testSeed, Options{})
		resp, body := e.admin("POST", "faults", map[string]any{"operation": "*", "status": 503, "errorCode": "SERVER_UNAVAILABLE", "message": "maintenance", "count": 2})
		if resp.StatusCode != 201 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		for i := 0; i < 2; i++ {
			resp, body := e.query(q)
			if resp.StatusCode != 503 || errorCode(t, body) != "SERVER_UNAVAILABLE" {
				t.Errorf("call %d: %d %s", i, resp.StatusCode, body)
			}
		}
		if resp, _ := e.query(q); resp.StatusCode != 200 {
			t.Errorf("after count: %d", resp.StatusCode)
		}
	})
	t.Run("probability fires on a share of calls", func(t *testing.T) {
		e := newEnv(t, testSeed, Options{})
		if err := e.srv.AddFault(Fault{Operation: "limits", Status: 500, Probability: 0.3, Seed: 7}); err != nil {
			t.Fatal(err)
		}
		failures := 0
		for i := 0; i < 100; i++ {
			if resp, _ := e.call("GET", "limits", nil); resp.StatusCode == 500 {
				failures++
			}
		}
		if failures < 10 || failures > 50 {
			t.Errorf("%d of 100 failed with probability 0.3", failures)
		}
	})
	t.Run("commitDelayMs stamps a write with when it began, not before the record's last change", func(t *testing.T) {
		e := newEnv(t, testSeed, Options{})
		admin := e.login("lmo-admin", "admin-secret")
		e.clock.Advance(10 * time.Second) // 12:00:10
		// The person's edit of the trial commits at once: a poller's watermark reaches 12:00:10.
		if resp, b := e.callAs(admin, "PATCH", "sobjects/"+objLicense+"/"+licTrial, `{"sfLma__Seats__c": 11}`); resp.StatusCode != 204 {
			t.Fatalf("edit: %d %s", resp.StatusCode, b)
		}
		if err := e.srv.AddFault(Fault{Operation: "collectionsPatch", CommitDelayMs: 3500}); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(500 * time.Millisecond)
		recs := []any{
			map[string]any{"attributes": map[string]any{"type": objLicense}, "id": licActive, "sfLma__Seats__c": 70},
			map[string]any{"attributes": map[string]any{"type": objLicense}, "id": licTrial, "sfLma__Seats__c": 12},
		}
		if resp, b := e.call("PATCH", "composite/sobjects", map[string]any{"records": recs}); resp.StatusCode != 200 || strings.Contains(string(b), `"success":false`) {
			t.Fatalf("late write: %d %s", resp.StatusCode, b)
		}
		// Committed at 12:00:10.500, begun at 12:00:07: stamped 12:00:07, older than the edit that
		// was visible before it. The trial's own last change (12:00:10) bounds its stamp.
		p := e.queryRecords("SELECT Id, sfLma__Seats__c, SystemModstamp, LastModifiedDate FROM sfLma__License__c WHERE Id IN ('" + licActive + "', '" + licTrial + "') ORDER BY sfLma__Seats__c")
		want := map[float64]string{12: "2026-11-25T12:00:10.000+0000", 70: "2026-11-25T12:00:07.000+0000"}
		for _, r := range p.Records {
			seats := r["sfLma__Seats__c"].(float64)
			if r["SystemModstamp"] != want[seats] || r["LastModifiedDate"] != want[seats] {
				t.Errorf("seats %v: SystemModstamp %v, LastModifiedDate %v, want %s", seats, r["SystemModstamp"], r["LastModifiedDate"], want[seats])
			}
		}
		h := e.queryRecords("SELECT NewValue, CreatedDate FROM sfLma__License__History WHERE ParentId = '" + licActive + "' AND Field = 'sfLma__Seats__c'")
		if len(h.Records) != 1 || h.Records[0]["CreatedDate"] != "2026-11-25T12:00:07.000+0000" {
			t.Errorf("history of the late write: %+v", h.Records)
		}
		// A poll from the watermark 12:00:10 misses it; one that reaches back 5 seconds finds it.
		if p := e.queryRecords("SELECT Id FROM sfLma__License__c WHERE SystemModstamp > 2026-11-25T12:00:10Z"); p.TotalSize != 0 {
			t.Errorf("after the watermark: %d records", p.TotalSize)
		}
		if p := e.queryRecords("SELECT Id FROM sfLma__License__c WHERE SystemModstamp > 2026-11-25T12:00:05Z"); p.TotalSize != 2 {
			t.Errorf("reaching back 5s: %d records, want 2", p.TotalSize)
		}
	})
	t.Run("lockRowShare fails that share of each batch", func(t *testing.T) {
		e := newEnv(t, testSeed, Options{})
		if err := e.srv.AddFault(Fault{Operation: "collectionsPatch", LockRowShare: 0.5}); err != nil {
			t.Fatal(err)
		}
		var recs []any
		for _, id := range []string{licActive, licTrial, licSuspended, licActive} {
			recs = append(recs, map[string]any{"attributes": map[string]any{"type": objLicense}, "id": id, "sfLma__Seats__c": 40})
		}
		_, body := e.call("PATCH", "composite/sobjects", map[string]any{"records": recs})
		var res []collectionResult
		_ = json.Unmarshal(body, &res)
		locked := 0
		for _, r := range res {
			if !r.Success && r.Errors[0].StatusCode == "UNABLE_TO_LOCK_ROW" {
				locked++
			}
		}
		if locked != 2 {
			t.Errorf("%d of 4 locked: %s", locked, body)
		}
	})
	t.Run("limitExceeded answers 403", func(t *testing.T) {
		e := newEnv(t, testSeed, Options{})
		if err := e.srv.AddFault(Fault{Operation: "*", LimitExceeded: true}); err != nil {
			t.Fatal(err)
		}
		resp, body := e.query(q)
		if resp.StatusCode != 403 || errorCode(t, body) != "REQUEST_LIMIT_EXCEEDED" {
			t.Errorf("%d %s", resp.StatusCode, body)
		}
	})
	t.Run("expireTokensNow revokes issued tokens", func(t *testing.T) {
		e := newEnv(t, testSeed, Options{})
		e.admin("POST", "faults", map[string]any{"expireTokensNow": true})
		e.clock.Advance(time.Millisecond)
		if resp, _ := e.call("GET", "limits", nil); resp.StatusCode != 401 {
			t.Errorf("old token: %d", resp.StatusCode)
		}
		fresh := e.login("lmo-operator", "s3cret")
		if resp, _ := e.callAs(fresh, "GET", "limits", nil); resp.StatusCode != 200 {
			t.Errorf("new token: %d", resp.StatusCode)
		}
	})
	t.Run("expireTokensEvery expires tokens by age", func(t *testing.T) {
		e := newEnv(t, testSeed, Options{})
		e.admin("POST", "faults", map[string]any{"expireTokensEvery": "20s"})
		e.clock.Advance(19 * time.Second)
		if resp, _ := e.call("GET", "limits", nil); resp.StatusCode != 200 {
			t.Errorf("at 19s: %d", resp.StatusCode)
		}
		e.clock.Advance(time.Second)
		if resp, _ := e.call("GET", "limits", nil); resp.StatusCode != 401 {
			t.Errorf("at 20s: %d", resp.StatusCode)
		}
	})
	t.Run("dropConnection breaks the response", func(t *testing.T) {
		e := newEnv(t, testSeed, Options{})
		if err := e.srv.AddFault(Fault{Operation: "query", DropConnection: true}); err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("GET", e.base+"/services/data/v62.0/query?q=SELECT+Id+FROM+User", nil)
		req.Header.Set("Authorization", "Bearer "+e.token)
		resp, err := httpClient.Do(req)
		if err == nil {
			_, err = readAll(resp)
		}
		if err == nil {
			t.Error("the dropped connection gave a complete response")
		}
	})
	t.Run("a fault with durationSeconds ends", func(t *testing.T) {
		e := newEnv(t, testSeed, Options{})
		if err := e.srv.AddFault(Fault{Operation: "query", Status: 500, DurationSeconds: 10}); err != nil {
			t.Fatal(err)
		}
		if resp, _ := e.query(q); resp.StatusCode != 500 {
			t.Errorf("during: %d", resp.StatusCode)
		}
		e.clock.Advance(10 * time.Second)
		if resp, _ := e.query(q); resp.StatusCode != 200 {
			t.Errorf("after: %d", resp.StatusCode)
		}
	})
	t.Run("DELETE clears faults", func(t *testing.T) {
		e := newEnv(t, testSeed, Options{})
		if err := e.srv.AddFault(Fault{Operation: "*", Status: 500}); err != nil {
			t.Fatal(err)
		}
		if resp, _ := e.admin("DELETE", "faults", nil); resp.StatusCode != 204 {
			t.Fatal(resp.StatusCode)
		}
		if resp, _ := e.query(q); resp.StatusCode != 200 {
			t.Errorf("after clearing: %d", resp.StatusCode)
		}
	})
	t.Run("an invalid fault is refused", func(t *testing.T) {
		e := newEnv(t, testSeed, Options{})
		if resp, _ := e.admin("POST", "faults", map[string]any{"operation": "nope", "status": 500}); resp.StatusCode != 400 {
			t.Errorf("%d", resp.StatusCode)
		}
	})
}

func TestCorruptAnswers(t *testing.T) {
	const q = "SELECT Id, sfLma__Seats__c, sfLma__Status__c FROM sfLma__License__c"
	tests := []struct {
		mode  string
		check func(t *testing.T, body []byte)
	}{
		{"invalidJSON", func(t *testing.T, body []byte) {
			if json.Valid(body) {
				t.Errorf("valid JSON: %s", body)
			}
		}},
		{"wrongTypes", func(t *testing.T, body []byte) {
			if !strings.Contains(string(body), `"totalSize":"4"`) || !strings.Contains(string(body), `"sfLma__Seats__c":"50.0"`) {
				t.Errorf("%s", body)
			}
		}},
		{"hugeBody", func(t *testing.T, body []byte) {
			if len(body) < 1<<20 || !json.Valid(body) {
				t.Errorf("%d bytes", len(body))
			}
		}},
		{"endlessPaging", func(t *testing.T, body []byte) {
			var p queryPage
			_ = json.Unmarshal(body, &p)
			if p.Done || p.NextRecordsURL == "" {
				t.Errorf("%s", body)
			}
		}},
		{"duplicateIds", func(t *testing.T, body []byte) {
			var p queryPage
			_ = json.Unmarshal(body, &p)
			if len(p.Records) != 5 || p.Records[0]["Id"] != p.Records[4]["Id"] {
				t.Errorf("%s", body)
			}
		}},
		{"unknownPicklist", func(t *testing.T, body []byte) {
			if !strings.Contains(string(body), `"sfLma__Status__c":"Pending Review"`) {
				t.Errorf("%s", body)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			e := newEnv(t, testSeed, Options{})
			if err := e.srv.AddFault(Fault{Operation: "query", Corrupt: tc.mode, HugeBodyBytes: 2 << 20}); err != nil {
				t.Fatal(err)
			}
			resp, body := e.query(q)
			if resp.StatusCode != 200 {
				t.Fatalf("%d", resp.StatusCode)
			}
			tc.check(t, body)
		})
	}
}

func readAll(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			if err.Error() == "EOF" {
				return []byte(b.String()), nil
			}
			return nil, err
		}
	}
}
