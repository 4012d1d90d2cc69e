package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"time"
)

var (
	// sobjectPattern is an sObject or field API name; anything else never reaches a URL path.
	sobjectPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,79}$`)
	// idPattern is a 15- or 18-character Salesforce id.
	idPattern = regexp.MustCompile(`^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$`)
)

func checkSObject(name string) error {
	if !sobjectPattern.MatchString(name) {
		return fmt.Errorf("salesforce: invalid sObject name %q", truncate(name, 80))
	}
	return nil
}

func checkID(id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("salesforce: invalid record id %q", truncate(id, 32))
	}
	return nil
}

// GetRecord reads one record (`GET sobjects/TYPE/ID`) into out, with encoding/json. An unknown id
// gives an *APIError with StatusCode 404 (IsNotFound).
func (c *Client) GetRecord(ctx context.Context, sobject, id string, out any) error {
	if err := checkSObject(sobject); err != nil {
		return err
	}
	if err := checkID(id); err != nil {
		return err
	}
	err := c.call(ctx, OpRowGet, request{method: http.MethodGet, uri: "/sobjects/" + sobject + "/" + id}, func(_ int, body []byte) error {
		if err := json.Unmarshal(body, out); err != nil {
			return malformed("record %s: %s", id, describeJSONError(err))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("get %s %s: %w", sobject, id, err)
	}
	return nil
}

// PatchRecord updates fields of one record (`PATCH sobjects/TYPE/ID`); a nil value empties the
// field. A non-zero ifUnmodifiedSince sends If-Unmodified-Since (an HTTP date, so whole seconds), and
// a record changed after it gives an *APIError with StatusCode 412.
func (c *Client) PatchRecord(ctx context.Context, sobject, id string, fields map[string]any, ifUnmodifiedSince time.Time) error {
	if err := checkSObject(sobject); err != nil {
		return err
	}
	if err := checkID(id); err != nil {
		return err
	}
	if err := checkFields(fields); err != nil {
		return err
	}
	body, err := json.Marshal(fields)
	if err != nil {
		return fmt.Errorf("salesforce: patch %s %s: %w", sobject, id, err)
	}
	req := request{method: http.MethodPatch, uri: "/sobjects/" + sobject + "/" + id, body: body}
	if !ifUnmodifiedSince.IsZero() {
		req.header = map[string]string{"If-Unmodified-Since": ifUnmodifiedSince.UTC().Format(http.TimeFormat)}
	}
	if err := c.call(ctx, OpRowPatch, req, nil); err != nil {
		return fmt.Errorf("patch %s %s: %w", sobject, id, err)
	}
	return nil
}

// checkFields refuses field names that are not API names, and the keys Collections reserves.
func checkFields(fields map[string]any) error {
	if len(fields) == 0 {
		return fmt.Errorf("salesforce: no fields to update")
	}
	for name := range fields {
		if !sobjectPattern.MatchString(name) || name == "attributes" || name == "Id" || name == "id" {
			return fmt.Errorf("salesforce: invalid field name %q", truncate(name, 80))
		}
	}
	return nil
}

// SObjectDescribe is the part of an sObject describe the operator uses.
type SObjectDescribe struct {
	// Name is the sObject's API name.
	Name string `json:"name"`
	// Label is its label.
	Label string `json:"label"`
	// Queryable is true if SOQL can read it.
	Queryable bool `json:"queryable"`
	// Updateable is true if records can be updated.
	Updateable bool `json:"updateable"`
	// Fields describes each field.
	Fields []FieldDescribe `json:"fields"`
	// RecordTypeInfos are the object's record types, Master included.
	RecordTypeInfos []RecordTypeInfo `json:"recordTypeInfos"`
}

// RecordTypeInfo is one record type in an SObjectDescribe.
type RecordTypeInfo struct {
	// Name is the record type's label-like name (Active).
	Name string `json:"name"`
	// DeveloperName is its API name (Active; the namespace is not part of it).
	DeveloperName string `json:"developerName"`
	// RecordTypeID is its id (012…).
	RecordTypeID string `json:"recordTypeId"`
	// Active is false for a deactivated record type.
	Active bool `json:"active"`
	// Master is true for the Master record type every object has.
	Master bool `json:"master"`
}

// Field returns the describe of the field name, if the object has it.
func (d SObjectDescribe) Field(name string) (FieldDescribe, bool) {
	for _, f := range d.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return FieldDescribe{}, false
}

// FieldDescribe is one field of an SObjectDescribe.
type FieldDescribe struct {
	// Name is the field's API name.
	Name string `json:"name"`
	// Type is the field type, e.g. double, picklist, date.
	Type string `json:"type"`
	// Updateable is true if the API user may write it.
	Updateable bool `json:"updateable"`
	// Nillable is true if it may be empty.
	Nillable bool `json:"nillable"`
	// PicklistValues lists a picklist's values.
	PicklistValues []PicklistValue `json:"picklistValues"`
}

// PicklistValue is one value of a picklist field.
type PicklistValue struct {
	// Value is the API value.
	Value string `json:"value"`
	// Label is its label.
	Label string `json:"label"`
	// Active is false for retired values.
	Active bool `json:"active"`
}

// Describe reads an sObject's describe (`GET sobjects/TYPE/describe`). An object that is not
// installed gives an *APIError with StatusCode 404 (IsNotFound).
func (c *Client) Describe(ctx context.Context, sobject string) (SObjectDescribe, error) {
	if err := checkSObject(sobject); err != nil {
		return SObjectDescribe{}, err
	}
	var d SObjectDescribe
	err := c.call(ctx, OpDescribe, request{method: http.MethodGet, uri: "/sobjects/" + sobject + "/describe"}, func(_ int, body []byte) error {
		if err := json.Unmarshal(body, &d); err != nil {
			return malformed("describe %s: %s", sobject, describeJSONError(err))
		}
		if d.Name == "" {
			return malformed("describe %s: no name", sobject)
		}
		return nil
	})
	if err != nil {
		return SObjectDescribe{}, fmt.Errorf("describe %s: %w", sobject, err)
	}
	return d, nil
}

// APIVersionInfo is one entry of `GET /services/data`.
type APIVersionInfo struct {
	// Version is the version number, e.g. "62.0".
	Version string `json:"version"`
	// Label is the release name.
	Label string `json:"label"`
	// URL is the version's resource path.
	URL string `json:"url"`
}

// Versions lists the REST API versions the org serves (`GET /services/data`, no token needed).
func (c *Client) Versions(ctx context.Context) ([]APIVersionInfo, error) {
	var out []APIVersionInfo
	err := c.call(ctx, OpVersions, request{method: http.MethodGet, uri: "/services/data", raw: true}, func(_ int, body []byte) error {
		if err := json.Unmarshal(body, &out); err != nil {
			return malformed("versions: %s", describeJSONError(err))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("versions: %w", err)
	}
	return out, nil
}
