package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// maxQueryRecords is the absolute bound on the records one query may return, whatever totalSize
// claims; it is far above any real LMO's license count.
const maxQueryRecords = 5_000_000

// QueryOption changes how Query runs.
type QueryOption func(*queryOptions)

type queryOptions struct {
	all       bool
	batchSize int
}

// queryPage is one page of a query result, with records left raw for the caller's type.
type queryPage struct {
	TotalSize      int
	Done           bool
	NextRecordsURL string
	Records        []json.RawMessage
}

// decodeQueryPage parses and checks one page: totalSize, done and records must be present with the
// right types, and a page that is not done must say where the next one is.
func decodeQueryPage(body []byte) (queryPage, error) {
	var wire struct {
		TotalSize      *int64             `json:"totalSize"`
		Done           *bool              `json:"done"`
		NextRecordsURL *string            `json:"nextRecordsUrl"`
		Records        *[]json.RawMessage `json:"records"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&wire); err != nil {
		return queryPage{}, malformed("query page: %s", describeJSONError(err))
	}
	if dec.More() {
		return queryPage{}, malformed("query page: trailing data after the JSON object")
	}
	switch {
	case wire.TotalSize == nil:
		return queryPage{}, malformed("query page: no totalSize")
	case *wire.TotalSize < 0 || *wire.TotalSize > maxQueryRecords:
		return queryPage{}, malformed("query page: totalSize %d out of range", *wire.TotalSize)
	case wire.Done == nil:
		return queryPage{}, malformed("query page: no done")
	case wire.Records == nil:
		return queryPage{}, malformed("query page: no records array")
	}
	p := queryPage{TotalSize: int(*wire.TotalSize), Done: *wire.Done, Records: *wire.Records}
	if wire.NextRecordsURL != nil {
		p.NextRecordsURL = *wire.NextRecordsURL
	}
	for i, r := range p.Records {
		if len(r) == 0 || r[0] != '{' {
			return queryPage{}, malformed("query page: record %d is not an object", i)
		}
	}
	if !p.Done && p.NextRecordsURL == "" {
		return queryPage{}, malformed("query page: not done but no nextRecordsUrl")
	}
	if !p.Done && len(p.Records) == 0 {
		return queryPage{}, malformed("query page: an empty page that is not the last")
	}
	return p, nil
}

// describeJSONError says what was wrong with JSON without quoting the (possibly huge) input.
func describeJSONError(err error) string {
	switch e := err.(type) {
	case *json.SyntaxError:
		return "invalid JSON at offset " + strconv.FormatInt(e.Offset, 10)
	case *json.UnmarshalTypeError:
		return fmt.Sprintf("field %q has the wrong type (%s, want %s)", truncate(e.Field, 128), e.Value, e.Type)
	default:
		return truncate(err.Error(), 256)
	}
}

// validator is implemented by record types that can tell an impossible record (License).
type validator interface{ Validate() error }

// recordID is decoded from every record to refuse duplicate ids in one result.
type recordID struct {
	ID string `json:"Id"`
}

// Query runs soql and calls fn with each page of records decoded into T (with encoding/json, so T's
// json tags are Salesforce field API names), in order, until the result is done or fn returns an
// error, which Query then returns as is. Tokens that expire between pages are renewed.
//
// A result the client cannot trust stops the query with an error wrapping ErrMalformedResponse
// before fn sees the page: records of the wrong shape, records whose Validate method (if T has one,
// like License) refuses them, the same Id twice, more records than totalSize, an empty page that is
// not the last, or a nextRecordsUrl seen before or outside the API.
func Query[T any](ctx context.Context, c *Client, soql string, fn func(page []T) error, opts ...QueryOption) error {
	var o queryOptions
	for _, opt := range opts {
		opt(&o)
	}
	if strings.TrimSpace(soql) == "" {
		return fmt.Errorf("salesforce: empty query")
	}
	endpoint := "/query"
	if o.all {
		endpoint = "/queryAll"
	}
	req := request{method: http.MethodGet, uri: endpoint + "?q=" + url.QueryEscape(soql)}
	if o.batchSize > 0 {
		req.header = map[string]string{"Sforce-Query-Options": "batchSize=" + strconv.Itoa(o.batchSize)}
	}
	var page queryPage
	err := c.call(ctx, OpQuery, req, func(_ int, body []byte) error {
		var err error
		page, err = decodeQueryPage(body)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: %w", OpQuery, err)
	}
	return runPages(ctx, c, OpQuery, page, req.header, fn)
}

// pageState is what paging remembers across the pages of one result to refuse a hostile one.
type pageState struct {
	total    int
	received int
	ids      map[string]struct{}
	visited  map[string]struct{}
}

// decodeRecords checks page against what came before and decodes its records into T: no more
// records than totalSize, every record of T's shape and valid (if T has Validate), no Id twice.
func decodeRecords[T any](st *pageState, page queryPage) ([]T, error) {
	if st.total < 0 {
		st.total = page.TotalSize
	}
	st.received += len(page.Records)
	if st.received > st.total {
		return nil, malformed("%d records received but totalSize is %d", st.received, st.total)
	}
	records := make([]T, len(page.Records))
	for i, raw := range page.Records {
		n := st.received - len(page.Records) + i
		if err := json.Unmarshal(raw, &records[i]); err != nil {
			return nil, malformed("record %d: %s", n, describeJSONError(err))
		}
		if v, ok := any(&records[i]).(validator); ok {
			if err := v.Validate(); err != nil {
				return nil, malformed("record %d: %v", n, err)
			}
		}
		var id recordID
		if err := json.Unmarshal(raw, &id); err != nil {
			return nil, malformed("record %d: Id is not a string", n)
		}
		if id.ID == "" {
			continue
		}
		if _, dup := st.ids[id.ID]; dup {
			return nil, malformed("record Id %s appears twice in one result", truncate(id.ID, 32))
		}
		st.ids[id.ID] = struct{}{}
	}
	return records, nil
}

// runPages hands page, the first page of a result that arrived with operation op, to fn, then
// follows nextRecordsUrl with queryMore calls (carrying header) until the result is done. Errors
// of fn are returned as is; the others are prefixed with the operation whose page was refused.
func runPages[T any](ctx context.Context, c *Client, op string, page queryPage, header map[string]string, fn func(page []T) error) error {
	st := &pageState{total: -1, ids: map[string]struct{}{}, visited: map[string]struct{}{}}
	for {
		records, err := decodeRecords[T](st, page)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		if err := fn(records); err != nil {
			return err
		}
		if page.Done {
			return nil
		}
		next, err := c.nextPageURI(page.NextRecordsURL)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		if _, seen := st.visited[next]; seen {
			return fmt.Errorf("%s: %w", op, malformed("nextRecordsUrl %s repeats", truncate(next, 256)))
		}
		st.visited[next] = struct{}{}
		op = OpQueryMore
		req := request{method: http.MethodGet, uri: next, header: header}
		err = c.call(ctx, op, req, func(_ int, body []byte) error {
			var err error
			page, err = decodeQueryPage(body)
			return err
		})
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
	}
}

// nextPageURI checks a nextRecordsUrl and returns it relative to /services/data/vNN.N: it must be a
// path of this API version's query or queryAll resource, never another host or resource.
func (c *Client) nextPageURI(next string) (string, error) {
	prefix := "/services/data/v" + c.s.apiVersion
	rest, ok := strings.CutPrefix(next, prefix)
	if !ok || !(strings.HasPrefix(rest, "/query/") || strings.HasPrefix(rest, "/queryAll/")) {
		return "", malformed("nextRecordsUrl %q is not a query locator of API v%s", truncate(next, 256), c.s.apiVersion)
	}
	locator := rest[strings.Index(rest[1:], "/")+2:]
	if locator == "" || strings.ContainsAny(locator, "/?#%\\ \t\r\n") || strings.Contains(locator, "..") {
		return "", malformed("nextRecordsUrl %q has an invalid query locator", truncate(next, 256))
	}
	return rest, nil
}

// Organization is the org's own record, to tell a production LMO from one that will expire.
type Organization struct {
	// ID is the org id (00D…).
	ID string `json:"Id"`
	// Name is the org's name.
	Name string `json:"Name"`
	// OrganizationType is the edition, e.g. "Enterprise Edition" or "Developer Edition".
	OrganizationType string `json:"OrganizationType"`
	// IsSandbox is true for a sandbox.
	IsSandbox bool `json:"IsSandbox"`
	// TrialExpirationDate is set for a trial org.
	TrialExpirationDate DateTime `json:"TrialExpirationDate"`
	// InstanceName is the Salesforce instance, e.g. "NA123".
	InstanceName string `json:"InstanceName"`
}

// OrganizationFields is the SOQL field list of Organization.
const OrganizationFields = "Id, Name, OrganizationType, IsSandbox, TrialExpirationDate, InstanceName"

// Organization reads the org's Organization record.
func (c *Client) Organization(ctx context.Context) (Organization, error) {
	var org []Organization
	err := Query(ctx, c, "SELECT "+OrganizationFields+" FROM Organization", func(page []Organization) error {
		org = append(org, page...)
		return nil
	})
	if err != nil {
		return Organization{}, fmt.Errorf("organization: %w", err)
	}
	if len(org) != 1 {
		return Organization{}, fmt.Errorf("organization: %w", malformed("%d Organization records, want 1", len(org)))
	}
	return org[0], nil
}
