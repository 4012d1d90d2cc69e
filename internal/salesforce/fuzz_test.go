package salesforce

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// FuzzDecodeQueryPage feeds arbitrary bodies to the query page decoder and the record decoding
// that follows it: no panic, and a page it accepts satisfies the invariants Query relies on.
func FuzzDecodeQueryPage(f *testing.F) {
	f.Add([]byte(`{"totalSize":1,"done":true,"records":[{"attributes":{"type":"sfLma__License__c"},"Id":"a0N000000000001AAA","sfLma__Seats__c":50.0,"sfLma__Expiration__c":"2027-01-31","SystemModstamp":"2026-11-23T10:00:00.000+0000","sfLma__Package__r":{"sfLma__Package_ID__c":"033000000000001AAA"}}]}`))
	f.Add([]byte(`{"totalSize":2412,"done":false,"nextRecordsUrl":"/services/data/v62.0/query/01gXX0000000001-2000","records":[{"Id":"a"}]}`))
	f.Add([]byte(`{"totalSize":0,"done":true,"records":[]}`))
	f.Add([]byte(`{"totalSize":-1,"done":true,"records":[]}`))
	f.Add([]byte(`{"totalSize":1,"done":false,"records":[]}`))
	f.Add([]byte(`{"totalSize":"1","done":true,"records":{}}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"totalSize":1,"done":true,"records":[null]}`))
	f.Add([]byte(`{"totalSize":1,"done":true,"records":[{"sfLma__Seats__c":"x","sfLma__Expiration__c":7}]} trailing`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := decodeQueryPage(body)
		if err != nil {
			if !errors.Is(err, ErrMalformedResponse) {
				t.Fatalf("error %v does not wrap ErrMalformedResponse", err)
			}
			if len(err.Error()) > 1024 {
				t.Fatalf("error of %d bytes", len(err.Error()))
			}
			return
		}
		if p.TotalSize < 0 || (!p.Done && (p.NextRecordsURL == "" || len(p.Records) == 0)) {
			t.Fatalf("accepted an inconsistent page: %+v", p)
		}
		for _, r := range p.Records {
			var l License
			_ = json.Unmarshal(r, &l) // must not panic
			var v FeatureParameterValue
			if json.Unmarshal(r, &v) == nil {
				_, _ = v.Bool()
				_, _ = v.Int()
				_, _ = v.Date()
			}
		}
		c := &Client{s: &settings{apiVersion: "62.0"}}
		if next, err := c.nextPageURI(p.NextRecordsURL); err == nil {
			if !strings.HasPrefix(next, "/query/") && !strings.HasPrefix(next, "/queryAll/") || strings.Contains(next, "..") {
				t.Fatalf("accepted nextRecordsUrl %q as %q", p.NextRecordsURL, next)
			}
		}
	})
}

// FuzzDecodeAPIError feeds arbitrary error bodies to the error decoder: never nil, never a panic,
// bounded messages, and the status kept.
func FuzzDecodeAPIError(f *testing.F) {
	f.Add(400, []byte(`[{"message":"bad","errorCode":"INVALID_FIELD","fields":["X"]}]`))
	f.Add(401, []byte(`[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`))
	f.Add(403, []byte(`[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`))
	f.Add(503, []byte(`<html></html>`))
	f.Add(500, []byte(`{"errorCode":5,"message":["x"]}`))
	f.Add(404, []byte(``))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := decodeAPIError(status, body)
		if e == nil || e.StatusCode != status {
			t.Fatalf("got %+v", e)
		}
		if len(e.Message) > maxErrorMessage+8 || len(e.Code) > 136 || len(e.Fields) > 20 {
			t.Fatalf("unbounded error: %d %d %d", len(e.Message), len(e.Code), len(e.Fields))
		}
		_ = e.Error()
		_ = e.Class()
	})
}

// FuzzDecodeSaveResults feeds arbitrary Collections answers: an accepted answer has one result per
// record, each for its record.
func FuzzDecodeSaveResults(f *testing.F) {
	f.Add([]byte(`[{"id":"a0N000000000001AAA","success":true,"errors":[]},{"id":"a0N000000000002AAA","success":false,"errors":[{"statusCode":"UNABLE_TO_LOCK_ROW","message":"x","fields":[]}]}]`))
	f.Add([]byte(`[{"success":false}]`))
	f.Add([]byte(`{}`))
	chunk := []RecordUpdate{{ID: "a0N000000000001AAA"}, {ID: "a0N000000000002AAA"}}
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := decodeSaveResults(200, body, chunk)
		if err != nil {
			if !errors.Is(err, ErrMalformedResponse) {
				t.Fatalf("error %v does not wrap ErrMalformedResponse", err)
			}
			return
		}
		if len(res) != len(chunk) {
			t.Fatalf("%d results for %d records", len(res), len(chunk))
		}
		for i, r := range res {
			if !sameID(r.ID, chunk[i].ID) || (!r.Success && len(r.Errors) == 0) {
				t.Fatalf("result %d: %+v", i, r)
			}
		}
	})
}
