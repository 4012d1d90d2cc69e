package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// CollectionsMax is the most records one sObject Collections call may update.
const CollectionsMax = 200

// RecordUpdate is a change to one record: the fields to set, a nil value empties the field.
type RecordUpdate struct {
	// SObject is the record's sObject API name, e.g. sfLma__License__c.
	SObject string
	// ID is the record id.
	ID string
	// Fields maps field API names to their new values.
	Fields map[string]any
}

// SaveResult is Salesforce's answer for one record of an Update.
type SaveResult struct {
	// ID is the record id (the input's when Salesforce omits it).
	ID string
	// Success is true when the record was updated.
	Success bool
	// Errors says why not; each has StatusCode 200 (the call succeeded, the record did not) and a
	// Code such as UNABLE_TO_LOCK_ROW or a validation code.
	Errors []APIError
}

// Err returns the first of Errors as an error, or nil for a success.
func (r SaveResult) Err() error {
	if r.Success {
		return nil
	}
	if len(r.Errors) == 0 {
		return &APIError{StatusCode: http.StatusOK, Message: "record not saved, no reason given"}
	}
	e := r.Errors[0]
	return &e
}

// wireSaveResult is one element of a Collections answer.
type wireSaveResult struct {
	ID      string      `json:"id"`
	Success *bool       `json:"success"`
	Errors  []wireError `json:"errors"`
}

// Update applies updates with sObject Collections (`PATCH composite/sobjects`), in consecutive
// chunks of at most CollectionsMax records, one call each, and returns one SaveResult per update
// in input order. Records may mix sObject types. allOrNone applies to each chunk on its own:
// Salesforce cannot roll back across calls.
//
// Per-record failures (UNABLE_TO_LOCK_ROW, validation errors) are in the results, not in the error.
// When a chunk fails as a whole (5xx, REQUEST_LIMIT_EXCEEDED, an expired token that re-auth could
// not renew, a dropped connection, a malformed answer), Update stops and returns that error together
// with the results of the chunks before it: results[i] belongs to updates[i] for i < len(results),
// and updates[len(results):] have no result. The failed chunk may or may not have been applied when
// the connection dropped; later chunks were not sent. Invalid input (a bad sObject name, id or field
// name) is refused before any call, with nil results.
func (c *Client) Update(ctx context.Context, updates []RecordUpdate, allOrNone bool) ([]SaveResult, error) {
	for i, u := range updates {
		if err := checkSObject(u.SObject); err != nil {
			return nil, fmt.Errorf("update %d: %w", i, err)
		}
		if err := checkID(u.ID); err != nil {
			return nil, fmt.Errorf("update %d: %w", i, err)
		}
		if err := checkFields(u.Fields); err != nil {
			return nil, fmt.Errorf("update %d (%s): %w", i, u.ID, err)
		}
	}
	results := make([]SaveResult, 0, len(updates))
	for start := 0; start < len(updates); start += CollectionsMax {
		chunk := updates[start:min(start+CollectionsMax, len(updates))]
		body, err := collectionsBody(chunk, allOrNone)
		if err != nil {
			return results, fmt.Errorf("update records %d..%d: %w", start, start+len(chunk)-1, err)
		}
		var got []SaveResult
		err = c.call(ctx, OpCollectionsPatch, request{method: http.MethodPatch, uri: "/composite/sobjects", body: body}, func(status int, body []byte) error {
			got, err = decodeSaveResults(status, body, chunk)
			return err
		})
		if err != nil {
			return results, fmt.Errorf("update records %d..%d: %w", start, start+len(chunk)-1, err)
		}
		results = append(results, got...)
	}
	return results, nil
}

// collectionsBody builds the request of one chunk.
func collectionsBody(chunk []RecordUpdate, allOrNone bool) ([]byte, error) {
	type attributes struct {
		Type string `json:"type"`
	}
	records := make([]map[string]any, len(chunk))
	for i, u := range chunk {
		r := make(map[string]any, len(u.Fields)+2)
		for k, v := range u.Fields {
			r[k] = v
		}
		r["attributes"] = attributes{Type: u.SObject}
		r["id"] = u.ID
		records[i] = r
	}
	return json.Marshal(struct {
		AllOrNone bool             `json:"allOrNone"`
		Records   []map[string]any `json:"records"`
	}{allOrNone, records})
}

// decodeSaveResults reads a Collections answer: exactly one result per record, in order, each for
// the record it answers.
func decodeSaveResults(status int, body []byte, chunk []RecordUpdate) ([]SaveResult, error) {
	var wire []wireSaveResult
	if err := json.Unmarshal(body, &wire); err != nil {
		return nil, malformed("collections result: %s", describeJSONError(err))
	}
	if len(wire) != len(chunk) {
		return nil, malformed("collections result has %d entries for %d records", len(wire), len(chunk))
	}
	out := make([]SaveResult, len(chunk))
	for i, w := range wire {
		if w.Success == nil {
			return nil, malformed("collections result %d has no success", i)
		}
		if w.ID != "" && !sameID(w.ID, chunk[i].ID) {
			return nil, malformed("collections result %d is for %s, not %s", i, truncate(w.ID, 32), chunk[i].ID)
		}
		r := SaveResult{ID: chunk[i].ID, Success: *w.Success}
		if w.ID != "" {
			r.ID = w.ID
		}
		for _, e := range w.Errors {
			r.Errors = append(r.Errors, e.toAPIError(status))
		}
		if !r.Success && len(r.Errors) == 0 {
			r.Errors = []APIError{{StatusCode: status, Message: "record not saved, no reason given"}}
		}
		out[i] = r
	}
	return out, nil
}

// sameID compares ids, a 15-character id being the case-sensitive prefix of its 18-character form.
func sameID(a, b string) bool {
	if a == b {
		return true
	}
	if len(a) >= 15 && len(b) >= 15 && (len(a) == 15 || len(b) == 15) {
		return a[:15] == b[:15]
	}
	return false
}
