package salesforce

import (
	"errors"
	"net/http"
)

// Error predicates and query options that only the tests use: the operator classifies errors with
// ClassOf and runs its queries with the defaults.

// IsRetryable reports whether err is transient and worth retrying with backoff.
func IsRetryable(err error) bool { return err != nil && ClassOf(err) == Retryable }

// IsValidation reports whether Salesforce refused the data or query of the call.
func IsValidation(err error) bool { return err != nil && ClassOf(err) == Validation }

// IsPreconditionFailed reports whether err is the 412 of a PatchRecord whose If-Unmodified-Since
// was older than the record's last change.
func IsPreconditionFailed(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.StatusCode == http.StatusPreconditionFailed
}

// WithQueryAll runs the query through queryAll, which also returns deleted and archived records
// (IsDeleted = true).
func WithQueryAll() QueryOption { return func(o *queryOptions) { o.all = true } }

// WithBatchSize asks for pages of n records (Salesforce accepts 200..2000; n is clamped to that).
func WithBatchSize(n int) QueryOption {
	return func(o *queryOptions) { o.batchSize = min(max(n, 200), 2000) }
}
