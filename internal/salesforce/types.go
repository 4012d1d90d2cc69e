package salesforce

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Date is a Salesforce date field ("YYYY-MM-DD"). The zero Date is an empty (null) field.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// neverExpires is the date the LMA also uses for "does not expire".
var neverExpires = Date{Year: 1970, Month: time.January, Day: 1}

// DateOf returns the calendar date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{Year: y, Month: m, Day: d}
}

// ParseDate parses "YYYY-MM-DD"; the empty string gives the zero Date.
func ParseDate(s string) (Date, error) {
	if s == "" {
		return Date{}, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("salesforce: invalid date %q: want YYYY-MM-DD", truncate(s, 64))
	}
	return DateOf(t), nil
}

// IsZero reports whether the field is empty.
func (d Date) IsZero() bool { return d == Date{} }

// IsNever reports whether the date means "does not expire" to the LMA: empty or 1970-01-01.
func (d Date) IsNever() bool { return d.IsZero() || d == neverExpires }

// String formats the date as YYYY-MM-DD, or "" when empty. It is also the SOQL literal of the date.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day)
}

// Time returns midnight UTC of the date (the zero time.Time for an empty Date).
func (d Date) Time() time.Time {
	if d.IsZero() {
		return time.Time{}
	}
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC)
}

// Before reports whether d is an earlier calendar day than o.
func (d Date) Before(o Date) bool { return d.Time().Before(o.Time()) }

// MarshalJSON writes "YYYY-MM-DD", or null for the empty Date.
func (d Date) MarshalJSON() ([]byte, error) {
	if d.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(d.String())
}

// UnmarshalJSON reads "YYYY-MM-DD" or null.
func (d *Date) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		*d = Date{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("salesforce: date is not a string")
	}
	v, err := ParseDate(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// DateTime is a Salesforce datetime field (`2026-11-23T10:00:00.000+0000`). The zero DateTime is an
// empty (null) field.
type DateTime struct {
	time.Time
}

// dateTimeLayouts are accepted when decoding; Salesforce sends the first.
var dateTimeLayouts = []string{
	"2006-01-02T15:04:05.000-0700",
	"2006-01-02T15:04:05-0700",
	"2006-01-02T15:04:05.000Z07:00",
	time.RFC3339Nano,
}

// soqlDateTimeLayout is the form of datetime literals in SOQL and in request bodies.
const soqlDateTimeLayout = "2006-01-02T15:04:05.000Z"

// ParseDateTime parses a Salesforce datetime; the empty string gives the zero DateTime.
func ParseDateTime(s string) (DateTime, error) {
	if s == "" {
		return DateTime{}, nil
	}
	for _, l := range dateTimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return DateTime{t.UTC()}, nil
		}
	}
	return DateTime{}, fmt.Errorf("salesforce: invalid datetime %q", truncate(s, 64))
}

// Equal reports whether both are the same instant (or both empty).
func (t DateTime) Equal(o DateTime) bool { return t.Time.Equal(o.Time) }

// SOQL returns the datetime as a SOQL literal, e.g. 2026-11-23T10:00:00.000Z.
func (t DateTime) SOQL() string { return SOQLDateTime(t.Time) }

// MarshalJSON writes the datetime the way Salesforce accepts it, or null when empty.
func (t DateTime) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(t.UTC().Format(soqlDateTimeLayout))
}

// UnmarshalJSON reads a Salesforce datetime or null.
func (t *DateTime) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		*t = DateTime{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("salesforce: datetime is not a string")
	}
	v, err := ParseDateTime(s)
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// SOQLDateTime formats t as a SOQL datetime literal in UTC, to the second, e.g. 2026-11-23T10:00:00Z
// (SOQL datetime literals are unquoted).
func SOQLDateTime(t time.Time) string {
	// The SOQL reference documents datetime literals to the second; Salesforce stores datetimes to the
	// second too. Flooring keeps "> t" from skipping anything in t's second.
	return t.UTC().Truncate(time.Second).Format(soqlLiteralLayout)
}

// soqlLiteralLayout is the documented SOQL datetime literal form.
const soqlLiteralLayout = "2006-01-02T15:04:05Z"

// QuoteString returns s as a single-quoted SOQL string literal, escaping backslashes, quotes and
// control characters so that no value can change the query around it.
func QuoteString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '\'':
			b.WriteString(`\'`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if r < 0x20 || r == 0x7f {
				continue
			}
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// Usage is the org's daily API usage as the last response's Sforce-Limit-Info header said.
type Usage struct {
	// Used is the number of API requests counted in the last 24 hours.
	Used int
	// Max is the org's daily API request limit.
	Max int
	// PerAppUsed and PerAppMax are the connected app's own daily allocation (per-app-api-usage),
	// when the org set one; PerAppMax is 0 otherwise. AppName names the app.
	PerAppUsed, PerAppMax int
	AppName               string
	// ObservedAt is when the response carrying these numbers arrived.
	ObservedAt time.Time
}

// Binding is the allocation that runs out first: the per-app one when it is set and has the
// smaller share left, else the org's.
func (u Usage) Binding() Usage {
	if u.PerAppMax > 0 && (u.Max <= 0 || float64(u.PerAppMax-u.PerAppUsed)/float64(u.PerAppMax) < float64(u.Max-u.Used)/float64(u.Max)) {
		return Usage{Used: u.PerAppUsed, Max: u.PerAppMax, PerAppUsed: u.PerAppUsed, PerAppMax: u.PerAppMax, AppName: u.AppName, ObservedAt: u.ObservedAt}
	}
	return u
}

// PerApp reports whether the per-app allocation is the binding one.
func (u Usage) PerApp() bool {
	return u.PerAppMax > 0 && u.Binding().Max == u.PerAppMax && u.Binding().Used == u.PerAppUsed
}

// Remaining is Max-Used, never negative.
func (u Usage) Remaining() int { return max(u.Max-u.Used, 0) }

// Fraction is the share of the daily limit used, 0..1 (1 when Max is unknown or zero).
func (u Usage) Fraction() float64 {
	if u.Max <= 0 {
		return 1
	}
	return min(float64(u.Used)/float64(u.Max), 1)
}

// CallInfo describes one HTTP call to Salesforce, for metrics and the API budget.
type CallInfo struct {
	// Operation is one of the Op constants (token, query, queryMore, rowGet, rowPatch,
	// collectionsPatch, composite, describe, limits, versions).
	Operation string
	// StatusCode is the HTTP status, 0 when no response arrived.
	StatusCode int
	// Err is the call's error, nil on success.
	Err error
	// Duration is how long the call took, body included.
	Duration time.Duration
	// Usage is the latest API usage known after the call (zero if never observed).
	Usage Usage
}

// Operation names reported in CallInfo.
const (
	OpToken            = "token"
	OpQuery            = "query"
	OpQueryMore        = "queryMore"
	OpRowGet           = "rowGet"
	OpRowPatch         = "rowPatch"
	OpCollectionsPatch = "collectionsPatch"
	OpComposite        = "composite" // the one call of RunBatch, however many queries it holds
	OpDescribe         = "describe"
	OpLimits           = "limits"
	OpVersions         = "versions"
)
