package lmosim

import (
	"encoding/json"
	"testing"
)

// With field history tracking off, the License's History object does not exist, as for any object
// whose tracking is off.
func TestHistoryTrackingOff(t *testing.T) {
	e := newEnv(t, testSeed+"historyTracking: false\n", Options{})
	if resp, body := e.call("GET", "sobjects/sfLma__License__History/describe", nil); resp.StatusCode != 404 {
		t.Errorf("describe History: %d %s, want 404", resp.StatusCode, body)
	}
	resp, body := e.query("SELECT Id FROM sfLma__License__History")
	if resp.StatusCode != 400 || errorCode(t, body) != "INVALID_TYPE" {
		t.Errorf("query History: %d %s, want 400 INVALID_TYPE", resp.StatusCode, body)
	}
	// The License itself is still there.
	if resp, body := e.query("SELECT Id FROM sfLma__License__c"); resp.StatusCode != 200 {
		t.Errorf("query License: %d %s", resp.StatusCode, body)
	}
}

// Field-level security can leave a field read-only for the API user: describe says so and a write
// is refused naming the field.
func TestReadOnlyFields(t *testing.T) {
	e := newEnv(t, testSeed+"readOnlyFields: [sfLma__Seats__c]\n", Options{})
	_, body := e.call("GET", "sobjects/sfLma__License__c/describe", nil)
	var d struct {
		Fields []struct {
			Name       string `json:"name"`
			Updateable bool   `json:"updateable"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatal(err)
	}
	for _, f := range d.Fields {
		if want := f.Name == fStatus || f.Name == fExpiration; (f.Name == fSeats || want) && f.Updateable != want {
			t.Errorf("describe %s updateable = %v, want %v", f.Name, f.Updateable, want)
		}
	}
	resp, body := e.call("PATCH", "sobjects/"+objLicense+"/"+licActive, `{"sfLma__Seats__c": 7}`)
	if resp.StatusCode != 400 || errorCode(t, body) != "INVALID_FIELD_FOR_INSERT_UPDATE" {
		t.Errorf("write of a read-only field: %d %s", resp.StatusCode, body)
	}
}

// Every Collections record names its type, and a call has at most 10 chunks (runs of consecutive
// records of one type).
func TestCollectionsTypesAndChunks(t *testing.T) {
	e := newEnv(t, testSeed, Options{})
	resp, body := e.call("PATCH", "composite/sobjects", map[string]any{"records": []any{
		map[string]any{"id": licActive, "sfLma__Seats__c": 9}}})
	var res []collectionResult
	if err := json.Unmarshal(body, &res); err != nil || resp.StatusCode != 200 || len(res) != 1 || res[0].Success ||
		res[0].Errors[0].StatusCode != "INVALID_TYPE" {
		t.Errorf("a record without attributes.type: %d %s", resp.StatusCode, body)
	}
	valueID := e.valueID(objIntValue, licActive, "acme__MaxProjects")
	var records []any
	for i := 0; i < 6; i++ { // license, value, license, value, …: 12 chunks
		records = append(records,
			map[string]any{"attributes": map[string]any{"type": objLicense}, "id": licActive, "sfLma__Seats__c": 10 + i},
			map[string]any{"attributes": map[string]any{"type": objIntValue}, "id": valueID, "sfFma__Value__c": 10 + i})
	}
	resp, body = e.call("PATCH", "composite/sobjects", map[string]any{"records": records})
	if resp.StatusCode != 400 || errorCode(t, body) != "INVALID_BATCH_REQUEST" {
		t.Errorf("12 chunks: %d %s, want 400 INVALID_BATCH_REQUEST", resp.StatusCode, body)
	}
	resp, body = e.call("PATCH", "composite/sobjects", map[string]any{"records": records[:10]}) // 10 chunks
	if resp.StatusCode != 200 {
		t.Errorf("10 chunks: %d %s, want 200", resp.StatusCode, body)
	}
}
