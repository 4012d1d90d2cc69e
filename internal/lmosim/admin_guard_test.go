package lmosim

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// The admin API has no authentication, so a web page the developer visits must not be able to drive
// it: a cross-origin form or fetch without a preflight can only send text/plain, form or multipart
// bodies, and a DNS-rebinding page reaches it under its own host name.
func TestAdminAPIRefusesWhatABrowserPageCanSend(t *testing.T) {
	e := newEnv(t, testSeed, Options{})
	install := `{"packageID": "033000000000001AAA", "subscriberOrgID": "00D000000000777"}`
	cases := []struct {
		name        string
		method      string
		path        string
		contentType string
		host        string
		body        string
		want        int
	}{
		{"a cross-origin POST with a text/plain body", "POST", "/__sim/installs", "text/plain", "", install, http.StatusUnsupportedMediaType},
		{"a cross-origin form POST", "POST", "/__sim/uninstalls", "application/x-www-form-urlencoded", "", `licenseID=a0N000000000001AAA`, http.StatusUnsupportedMediaType},
		{"a multipart POST", "POST", "/__sim/faults", "multipart/form-data; boundary=x", "", "--x--", http.StatusUnsupportedMediaType},
		{"a POST without a content type", "POST", "/__sim/stats/reset", "", "", "", http.StatusUnsupportedMediaType},
		{"a JSON POST under a foreign Host (DNS rebinding)", "POST", "/__sim/installs", "application/json", "attacker.example:8089", install, http.StatusForbidden},
		{"a GET under a foreign Host (DNS rebinding reads state)", "GET", "/__sim/stats", "", "attacker.example", "", http.StatusForbidden},
		{"a JSON POST on loopback", "POST", "/__sim/installs", "application/json; charset=utf-8", "", install, http.StatusCreated},
		{"a JSON POST under localhost", "POST", "/__sim/stats/reset", "application/json", "localhost:8089", "", http.StatusNoContent},
		{"a GET on loopback", "GET", "/__sim/stats", "", "", "", http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, e.base+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			if tc.host != "" {
				req.Host = tc.host
			}
			resp, err := httpClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("%s %s: %d %s, want %d", tc.method, tc.path, resp.StatusCode, body, tc.want)
			}
		})
	}
	// Nothing the refused requests asked for happened: only the JSON install on loopback created a
	// license for the subscriber.
	n := e.queryRecords("SELECT Id FROM sfLma__License__c WHERE sfLma__Subscriber_Org_ID__c = '00D000000000777'").TotalSize
	if n != 1 {
		t.Fatalf("%d licenses for the subscriber, want the one JSON install", n)
	}
}
