package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// BatchMaxQueries is the most queries one Batch holds: Salesforce runs at most 5 query subrequests
// in one Composite request.
const BatchMaxQueries = 5

// ErrBatchFull is returned by AddQuery when the batch already holds BatchMaxQueries queries.
var ErrBatchFull = errors.New("salesforce: batch already holds 5 queries")

// Batch is up to 5 SOQL queries, and sObject describes, sent as one Composite request: one API
// call for all of them.
//
// A Batch is built with NewBatch, AddQuery and AddDescribe and run with RunBatch, which may be
// called again to run the same subrequests again. It is not safe for concurrent Add calls.
type Batch struct {
	queries []batchQuery
	// serverStart is the lower bound of the server's clock when the last run began; see ServerTime.
	serverStart time.Time
}

// batchQuery is one subrequest of a Batch with its decoding hidden behind run.
type batchQuery struct {
	soql string
	// describe is the sObject of a describe subrequest; empty for a query.
	describe string
	// run pages through a result whose first page arrived in the composite response. fnErr says
	// whether the error came from the caller's fn (which stops the batch) rather than the server.
	run func(ctx context.Context, c *Client, op string, first queryPage) (fnErr bool, err error)
	// done receives a describe's outcome.
	done func(raw json.RawMessage, err error)
}

// MaxBatchSubrequests is the most subrequests one Composite call takes.
const MaxBatchSubrequests = 25

// AddDescribe adds a describe of sobject. fn receives the describe, or the subrequest's error (an
// object that is not installed gives an error for which IsNotFound is true); a describe's failure
// is delivered to fn only and does not fail RunBatch.
func AddDescribe(b *Batch, sobject string, fn func(SObjectDescribe, error)) error {
	if b == nil {
		return errors.New("salesforce: nil batch")
	}
	if err := checkSObject(sobject); err != nil {
		return err
	}
	if fn == nil {
		return errors.New("salesforce: nil describe function")
	}
	if len(b.queries) >= MaxBatchSubrequests {
		return fmt.Errorf("%w: cannot add subrequest %d", ErrBatchFull, len(b.queries)+1)
	}
	b.queries = append(b.queries, batchQuery{describe: sobject, done: func(raw json.RawMessage, err error) {
		if err != nil {
			fn(SObjectDescribe{}, fmt.Errorf("describe %s: %w", sobject, err))
			return
		}
		var d SObjectDescribe
		if uerr := json.Unmarshal(raw, &d); uerr != nil {
			fn(SObjectDescribe{}, malformed("describe %s: %s", sobject, describeJSONError(uerr)))
			return
		}
		if d.Name == "" {
			fn(SObjectDescribe{}, malformed("describe %s: no name", sobject))
			return
		}
		fn(d, nil)
	}})
	return nil
}

// queryCount is the number of query subrequests in the batch.
func (b *Batch) queryCount() int {
	n := 0
	for _, q := range b.queries {
		if q.describe == "" {
			n++
		}
	}
	return n
}

// NewBatch returns an empty batch.
func NewBatch() *Batch { return &Batch{} }

// ServerTime returns a time, by the server's clock, at or before the moment the server began
// running the batch's queries in the last successful RunBatch: the Composite response's Date header
// less the call's round trip. Every record whose SystemModstamp is earlier than this, less the
// longest a transaction takes to commit, was visible to the queries. ok is false when the server
// sent no usable Date header (or the batch has not run).
func (b *Batch) ServerTime() (t time.Time, ok bool) {
	return b.serverStart, !b.serverStart.IsZero()
}

// Len is the number of queries in the batch.
func (b *Batch) Len() int { return len(b.queries) }

// AddQuery adds a query whose records are decoded into T and passed to fn page by page (like Query).
// It returns an error wrapping ErrBatchFull if the batch already holds BatchMaxQueries queries, and
// an error for an empty query or a nil fn; the batch is unchanged then.
func AddQuery[T any](b *Batch, soql string, fn func(page []T) error) error {
	if b == nil {
		return errors.New("salesforce: nil batch")
	}
	if strings.TrimSpace(soql) == "" {
		return errors.New("salesforce: empty query")
	}
	if fn == nil {
		return errors.New("salesforce: nil page function")
	}
	if b.queryCount() >= BatchMaxQueries || len(b.queries) >= MaxBatchSubrequests {
		return fmt.Errorf("%w: cannot add query %d", ErrBatchFull, b.queryCount()+1)
	}
	b.queries = append(b.queries, batchQuery{
		soql: soql,
		run: func(ctx context.Context, c *Client, op string, first queryPage) (bool, error) {
			fnFailed := false
			err := runPages(ctx, c, op, first, nil, func(page []T) error {
				if err := fn(page); err != nil {
					fnFailed = true
					return err
				}
				return nil
			})
			return fnFailed, err
		},
	})
	return nil
}

// batchRef is the referenceId of the i-th query of a batch.
func batchRef(i int) string { return "q" + strconv.Itoa(i) }

// RunBatch sends the batch's queries as one Composite call (`POST composite`, reported to OnCall
// as OpComposite) and hands each query's records to its fn, query by query in the order they were
// added, page by page. A result that is not done is continued with ordinary queryMore calls (each
// one API call, as with Query), before the next query's fn is called. An empty batch makes no call.
//
// The whole call fails like a Query: an expired token is renewed and the call retried once; 403
// REQUEST_LIMIT_EXCEEDED, 5xx, a dropped connection or a malformed Composite envelope (wrong
// number of results, unknown or repeated referenceId, missing status) return that error before any
// fn is called.
//
// Each query then succeeds or fails on its own. A subrequest Salesforce refused (httpStatusCode ≥
// 400 with an error array) gives an *APIError with that status and code, classified like any other
// (400 MALFORMED_QUERY is Validation, 5xx Retryable, ...). A result the client cannot trust (the
// same checks as Query: shape, Validate, duplicate Id, totalSize, paging) and a failed queryMore
// stop that query only, with an error wrapping ErrMalformedResponse or the call's error. The other
// queries still run, and RunBatch returns the failures joined with errors.Join, each prefixed with
// the query's index and referenceId; ClassOf of the result is the most severe class among them
// (see ClassOf), and errors.As / IsNotFound find the first failure.
//
// An error returned by an fn stops the batch: queries after it are not run, and RunBatch returns
// that error as is, joined with the failures of the queries before it (or alone when there were
// none), so errors.Is finds it.
func (c *Client) RunBatch(ctx context.Context, b *Batch) error {
	if b == nil {
		return errors.New("salesforce: nil batch")
	}
	if len(b.queries) == 0 {
		return nil
	}
	body, err := compositeBody(c.s.apiVersion, b.queries)
	if err != nil {
		return fmt.Errorf("%s: %w", OpComposite, err)
	}
	var subs []compositeSub
	b.serverStart = time.Time{}
	var serverStart time.Time
	err = c.call(ctx, OpComposite, request{method: http.MethodPost, uri: "/composite", body: body, serverStart: &serverStart}, func(_ int, body []byte) error {
		var err error
		subs, err = decodeComposite(body, b.queries)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: %w", OpComposite, err)
	}
	b.serverStart = serverStart
	var errs []error
	for i, q := range b.queries {
		prefix := fmt.Sprintf("batch query %d (%s)", i, batchRef(i))
		sub := subs[i]
		if q.describe != "" {
			q.done(sub.raw, sub.err)
			continue
		}
		if sub.err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", prefix, OpComposite, sub.err))
			continue
		}
		fnErr, runErr := q.run(ctx, c, OpComposite, sub.page)
		if fnErr {
			if len(errs) == 0 {
				return runErr
			}
			return errors.Join(append(errs, runErr)...)
		}
		if runErr != nil {
			errs = append(errs, fmt.Errorf("%s: %w", prefix, runErr))
		}
	}
	return errors.Join(errs...)
}

// compositeBody builds the Composite request of queries: GET subrequests of the query resource,
// referenceIds q0..q4, allOrNone false so that one refused query does not fail the others.
func compositeBody(apiVersion string, queries []batchQuery) ([]byte, error) {
	type sub struct {
		Method      string `json:"method"`
		URL         string `json:"url"`
		ReferenceID string `json:"referenceId"`
	}
	req := struct {
		AllOrNone        bool  `json:"allOrNone"`
		CompositeRequest []sub `json:"compositeRequest"`
	}{CompositeRequest: make([]sub, len(queries))}
	for i, q := range queries {
		path := "/services/data/v" + apiVersion + "/query/?q=" + url.QueryEscape(q.soql)
		if q.describe != "" {
			path = "/services/data/v" + apiVersion + "/sobjects/" + q.describe + "/describe"
		}
		req.CompositeRequest[i] = sub{Method: http.MethodGet, URL: path, ReferenceID: batchRef(i)}
	}
	return json.Marshal(req)
}

// compositeSub is the outcome of one subrequest: its first page (or raw body), or why it failed.
type compositeSub struct {
	page queryPage
	raw  json.RawMessage
	err  error
}

// decodeComposite parses and checks a Composite answer to n query subrequests. The envelope must
// be exactly right (one result per referenceId q0..q(n-1), each with a status) or the whole answer
// is refused; a result's own failure or malformed page is kept as that subrequest's error.
func decodeComposite(body []byte, queries []batchQuery) ([]compositeSub, error) {
	n := len(queries)
	var wire struct {
		CompositeResponse *[]struct {
			Body           json.RawMessage `json:"body"`
			HTTPStatusCode *int            `json:"httpStatusCode"`
			ReferenceID    *string         `json:"referenceId"`
		} `json:"compositeResponse"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&wire); err != nil {
		return nil, malformed("composite response: %s", describeJSONError(err))
	}
	if dec.More() {
		return nil, malformed("composite response: trailing data after the JSON object")
	}
	if wire.CompositeResponse == nil {
		return nil, malformed("composite response: no compositeResponse array")
	}
	results := *wire.CompositeResponse
	if len(results) != n {
		return nil, malformed("composite response has %d results for %d subrequests", len(results), n)
	}
	out := make([]compositeSub, n)
	seen := make([]bool, n)
	for k, r := range results {
		if r.ReferenceID == nil {
			return nil, malformed("composite result %d has no referenceId", k)
		}
		i, err := strconv.Atoi(strings.TrimPrefix(*r.ReferenceID, "q"))
		if err != nil || !strings.HasPrefix(*r.ReferenceID, "q") || i < 0 || i >= n || batchRef(i) != *r.ReferenceID {
			return nil, malformed("composite result %d has unknown referenceId %q", k, truncate(*r.ReferenceID, 32))
		}
		if seen[i] {
			return nil, malformed("composite result %d repeats referenceId %s", k, batchRef(i))
		}
		seen[i] = true
		if r.HTTPStatusCode == nil {
			return nil, malformed("composite result %s has no httpStatusCode", batchRef(i))
		}
		status := *r.HTTPStatusCode
		switch {
		case status >= 200 && status <= 299 && queries[i].describe != "":
			out[i] = compositeSub{raw: r.Body}
		case status >= 200 && status <= 299:
			page, err := decodeQueryPage(r.Body)
			out[i] = compositeSub{page: page, err: err}
		case status >= 400 && status <= 599:
			out[i] = compositeSub{err: decodeAPIError(status, r.Body)}
		default:
			out[i] = compositeSub{err: malformed("composite result %s has httpStatusCode %d", batchRef(i), status)}
		}
	}
	return out, nil
}
