package salesforce

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"unicode/utf8"
)

// ErrorClass says what a caller should do about a failed call.
type ErrorClass int

const (
	// Terminal errors will fail again if retried unchanged: NOT_FOUND, malformed responses, bad
	// configuration, a cancelled context.
	Terminal ErrorClass = iota
	// Retryable errors are transient: 5xx, UNABLE_TO_LOCK_ROW, SERVER_UNAVAILABLE, dropped
	// connections and timeouts. Retry with backoff.
	Retryable
	// LimitExceeded means the org's daily API request limit is exhausted (403 REQUEST_LIMIT_EXCEEDED).
	// Retrying before the rolling window frees requests only burns more of it.
	LimitExceeded
	// Auth means the credentials were refused: an OAuth error, or 401 even after re-authenticating.
	Auth
	// Validation means Salesforce refused the data or the query (400 with a validation code). The
	// same request will be refused again; the spec or the query must change.
	Validation
)

// String returns the class name, suitable as a metrics label.
func (c ErrorClass) String() string {
	switch c {
	case Retryable:
		return "Retryable"
	case LimitExceeded:
		return "LimitExceeded"
	case Auth:
		return "Auth"
	case Validation:
		return "Validation"
	default:
		return "Terminal"
	}
}

// Error codes Salesforce sends that the client or its callers act on.
const (
	CodeInvalidSessionID      = "INVALID_SESSION_ID"
	CodeRequestLimitExceeded  = "REQUEST_LIMIT_EXCEEDED"
	CodeUnableToLockRow       = "UNABLE_TO_LOCK_ROW"
	CodeServerUnavailable     = "SERVER_UNAVAILABLE"
	CodeNotFound              = "NOT_FOUND"
	CodeMalformedQuery        = "MALFORMED_QUERY"
	CodeInvalidField          = "INVALID_FIELD"
	CodeInvalidType           = "INVALID_TYPE"
	CodeFieldCustomValidation = "FIELD_CUSTOM_VALIDATION_EXCEPTION"
	CodeRestrictedPicklist    = "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
	CodeNumberOutsideRange    = "NUMBER_OUTSIDE_VALID_RANGE"
	CodeInvalidFieldForUpdate = "INVALID_FIELD_FOR_INSERT_UPDATE"
	CodeInsufficientAccess    = "INSUFFICIENT_ACCESS_OR_READONLY"
	CodeAllOrNoneRolledBack   = "ALL_OR_NONE_OPERATION_ROLLED_BACK"
)

// validationCodes are the error codes that mean "Salesforce refused this data or query".
var validationCodes = map[string]bool{
	CodeFieldCustomValidation:         true,
	CodeRestrictedPicklist:            true,
	CodeNumberOutsideRange:            true,
	CodeInvalidFieldForUpdate:         true,
	CodeInsufficientAccess:            true,
	CodeInvalidField:                  true,
	CodeMalformedQuery:                true,
	CodeInvalidType:                   true,
	"REQUIRED_FIELD_MISSING":          true,
	"STRING_TOO_LONG":                 true,
	"INVALID_TYPE_ON_FIELD_IN_RECORD": true,
	"JSON_PARSER_ERROR":               true,
	"INVALID_ID_FIELD":                true,
	"MALFORMED_ID":                    true,
	"INVALID_CROSS_REFERENCE_KEY":     true,
	"ENTITY_IS_DELETED":               true,
	"INVALID_QUERY_FILTER_OPERATOR":   true,
	"EXCEEDED_ID_LIMIT":               true,
}

// maxErrorMessage bounds how much of a server-supplied message an error keeps.
const maxErrorMessage = 1024

// APIError is an error Salesforce answered on a REST call, decoded from its
// `[{"errorCode","message","fields"}]` body, or one per-record error of a Collections result.
type APIError struct {
	// StatusCode is the HTTP status of the response (200 for a per-record error of a Collections call).
	StatusCode int
	// Code is Salesforce's errorCode (statusCode in Collections results), e.g. UNABLE_TO_LOCK_ROW.
	Code string
	// Message is Salesforce's message, truncated to a sane length.
	Message string
	// Fields names the fields the error is about, when Salesforce says.
	Fields []string
}

var _ error = (*APIError)(nil)

// Error describes the error without any credential.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("salesforce: ")
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, "%d ", e.StatusCode)
	}
	if e.Code != "" {
		b.WriteString(e.Code)
	} else {
		b.WriteString("error")
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if len(e.Fields) > 0 {
		fmt.Fprintf(&b, " (fields %s)", strings.Join(e.Fields, ", "))
	}
	return b.String()
}

// Class says what to do about the error; see ErrorClass.
func (e *APIError) Class() ErrorClass {
	switch {
	case e.Code == CodeRequestLimitExceeded && concurrentLimit(e.Message):
		return Retryable
	case e.Code == CodeRequestLimitExceeded:
		return LimitExceeded
	case e.Code == CodeUnableToLockRow || e.Code == CodeServerUnavailable:
		return Retryable
	case e.StatusCode == http.StatusUnauthorized || e.Code == CodeInvalidSessionID:
		return Auth
	case validationCodes[e.Code]:
		return Validation
	case e.StatusCode >= 500:
		return Retryable
	case e.StatusCode == http.StatusTooManyRequests:
		return Retryable
	default:
		return Terminal
	}
}

// AuthError is a refusal from the OAuth token endpoint, decoded from its
// `{"error","error_description"}` body.
type AuthError struct {
	// StatusCode is the HTTP status of the token response.
	StatusCode int
	// Code is the OAuth error, e.g. invalid_grant or invalid_client.
	Code string
	// Description is the server's error_description, with any configured secret removed.
	Description string
}

var _ error = (*AuthError)(nil)

// Error describes the refusal without any credential.
func (e *AuthError) Error() string {
	code := e.Code
	if code == "" {
		code = "token request failed"
	}
	s := fmt.Sprintf("salesforce: authentication failed: %d %s", e.StatusCode, code)
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

// Class is Auth; Retryable when the token endpoint failed with a 5xx; LimitExceeded when it
// refused because the daily API limit is exhausted.
func (e *AuthError) Class() ErrorClass {
	if strings.Contains(e.Description, CodeRequestLimitExceeded) && concurrentLimit(e.Description) {
		return Retryable
	}
	if strings.Contains(e.Description, CodeRequestLimitExceeded) {
		return LimitExceeded
	}
	if e.StatusCode >= 500 || e.StatusCode == http.StatusTooManyRequests {
		return Retryable
	}
	return Auth
}

// concurrentLimit reports whether a REQUEST_LIMIT_EXCEEDED message is about calls running at the
// same time ("ConcurrentRequests", or "ConcurrentPerOrgLongTxn" for long-running transactions)
// rather than the daily allocation ("TotalRequests"): that limit clears as soon as calls finish.
func concurrentLimit(message string) bool { return strings.Contains(message, "Concurrent") }

// IsConcurrentLimit reports whether err is REQUEST_LIMIT_EXCEEDED for too many concurrent
// long-running calls: transient (ClassOf says Retryable), unlike the daily limit.
func IsConcurrentLimit(err error) bool {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.Code == CodeRequestLimitExceeded && concurrentLimit(apiErr.Message)
	}
	var authErr *AuthError
	return errors.As(err, &authErr) && strings.Contains(authErr.Description, CodeRequestLimitExceeded) && concurrentLimit(authErr.Description)
}

// ErrMalformedResponse is wrapped by every error about an answer the client refuses to trust:
// invalid JSON, wrong types, a body over the size cap, paging that never ends, duplicate record ids.
var ErrMalformedResponse = errors.New("salesforce: malformed response")

// ErrInvalidConfig is wrapped by every error New returns for a configuration it refuses.
var ErrInvalidConfig = errors.New("salesforce: invalid config")

// malformed wraps ErrMalformedResponse with a description of what was wrong.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedResponse, fmt.Sprintf(format, args...))
}

// classifier is implemented by the typed errors of this package.
type classifier interface{ Class() ErrorClass }

// ClassOf classifies any error a Client method returned, looking through wrapping. Connection
// errors and timeouts are Retryable, a cancelled context and unknown errors are Terminal.
//
// An error that joins several (errors.Join, as RunBatch returns, or fmt.Errorf with several %w) has
// the most severe class among its parts, in the order LimitExceeded > Auth > Validation > Terminal
// > Retryable: the class of the part that decides what the caller must do. The org-wide limit and
// refused credentials affect every call; a refused query or other permanent failure fails again
// however often the whole is retried; only when every part is transient is retrying the whole
// worthwhile.
func ClassOf(err error) ErrorClass {
	if err == nil {
		return Terminal
	}
	// Follow single wrapping down to the first typed error or the first join.
	for e := err; e != nil; e = errors.Unwrap(e) {
		if c, ok := e.(classifier); ok {
			return c.Class()
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			best, found := Terminal, false
			for _, part := range j.Unwrap() {
				if part == nil {
					continue
				}
				if cl := ClassOf(part); !found || severity(cl) > severity(best) {
					best, found = cl, true
				}
			}
			if found {
				return best
			}
			break
		}
	}
	return classOfLeaf(err)
}

// severity orders the classes for ClassOf of a joined error; higher is more severe.
func severity(c ErrorClass) int {
	switch c {
	case LimitExceeded:
		return 4
	case Auth:
		return 3
	case Validation:
		return 2
	case Terminal:
		return 1
	default: // Retryable
		return 0
	}
}

// classOfLeaf classifies an error with no join in its chain of single wrapping.
func classOfLeaf(err error) ErrorClass {
	var c classifier
	if errors.As(err, &c) {
		return c.Class()
	}
	switch {
	case errors.Is(err, ErrMalformedResponse), errors.Is(err, ErrInvalidConfig):
		return Terminal
	case errors.Is(err, context.Canceled):
		return Terminal
	case errors.Is(err, context.DeadlineExceeded):
		return Retryable
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return Retryable
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED):
		return Retryable
	}
	// A certificate that does not verify will not verify on retry either.
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	if errors.As(err, &certErr) || errors.As(err, &unknownAuth) || errors.As(err, &hostErr) || errors.As(err, &invalidCert) {
		return Terminal
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return Retryable
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return Retryable
	}
	return Terminal
}

// IsLimitExceeded reports whether err is the exhausted daily API limit.
func IsLimitExceeded(err error) bool { return err != nil && ClassOf(err) == LimitExceeded }

// IsAuth reports whether err is a refusal of the credentials.
func IsAuth(err error) bool { return err != nil && ClassOf(err) == Auth }

// IsNotFound reports whether err is a 404 (unknown record id, or an sObject that is not installed).
func IsNotFound(err error) bool {
	var e *APIError
	return errors.As(err, &e) && (e.StatusCode == http.StatusNotFound || e.Code == CodeNotFound)
}

// wireError is one element of Salesforce's error array.
type wireError struct {
	Message    string   `json:"message"`
	ErrorCode  string   `json:"errorCode"`
	StatusCode string   `json:"statusCode"`
	Fields     []string `json:"fields"`
}

// toAPIError converts a wire error, bounding what a hostile server can put in it.
func (w wireError) toAPIError(status int) APIError {
	code := w.ErrorCode
	if code == "" {
		code = w.StatusCode
	}
	e := APIError{StatusCode: status, Code: truncate(code, 128), Message: truncate(w.Message, maxErrorMessage)}
	for i, f := range w.Fields {
		if i == 20 {
			break
		}
		e.Fields = append(e.Fields, truncate(f, 128))
	}
	return e
}

// decodeAPIError turns a non-2xx REST response into an *APIError. It never fails: a body that is
// not Salesforce's error array gives an APIError with the status and no code.
func decodeAPIError(status int, body []byte) *APIError {
	var list []wireError
	if err := json.Unmarshal(body, &list); err == nil && len(list) > 0 {
		// INVALID_SESSION_ID anywhere in the list decides re-authentication.
		for _, w := range list {
			if w.ErrorCode == CodeInvalidSessionID {
				e := w.toAPIError(status)
				return &e
			}
		}
		e := list[0].toAPIError(status)
		return &e
	}
	var single wireError
	if err := json.Unmarshal(body, &single); err == nil && (single.ErrorCode != "" || single.Message != "") {
		e := single.toAPIError(status)
		return &e
	}
	msg := http.StatusText(status)
	if len(body) > 0 {
		msg = strings.TrimSpace(msg + " (unparseable error body)")
	}
	return &APIError{StatusCode: status, Message: msg}
}

// truncate cuts s to at most n bytes on a rune boundary and drops control characters.
func truncate(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
