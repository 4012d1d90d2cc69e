package lmosim

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// kind is the runtime type of a field value.
type kind uint8

const (
	kNull kind = iota
	kString
	kNumber
	kBool
	kDate     // S holds YYYY-MM-DD
	kDateTime // T holds milliseconds since the epoch
)

// val is one field value. It is a small value type so that evaluating a query over 100,000 rows
// allocates nothing per row.
type val struct {
	K kind    `json:"k"`
	S string  `json:"s,omitempty"`
	N float64 `json:"n,omitempty"`
	B bool    `json:"b,omitempty"`
	T int64   `json:"t,omitempty"`
}

var null = val{}

func str(s string) val {
	return val{K: kString, S: s}
}

// optStr is a string value that is null when empty, as Salesforce reports empty text fields.
func optStr(s string) val {
	if s == "" {
		return null
	}
	return val{K: kString, S: s}
}

func num(n float64) val { return val{K: kNumber, N: n} }

func boolean(b bool) val { return val{K: kBool, B: b} }

// date is a date value; an empty string is null.
func date(s string) val {
	if s == "" {
		return null
	}
	return val{K: kDate, S: s}
}

// dateTime is a datetime value from milliseconds since the epoch; 0 is null.
func dateTime(ms int64) val {
	if ms == 0 {
		return null
	}
	return val{K: kDateTime, T: ms}
}

func (v val) isNull() bool { return v.K == kNull }

// equal reports whether two values are the same, for change detection.
func (v val) equal(o val) bool { return v == o }

const (
	sfDateTimeLayout = "2006-01-02T15:04:05.000-0700"
	dateLayout       = "2006-01-02"
)

// formatDateTime renders milliseconds since the epoch the way Salesforce does: UTC, milliseconds
// and a +0000 offset.
func formatDateTime(ms int64) string {
	return time.UnixMilli(ms).UTC().Format(sfDateTimeLayout)
}

// appendJSON appends the JSON form of v as Salesforce writes it: numbers always with a decimal
// part (50.0), dates as YYYY-MM-DD, datetimes with milliseconds and +0000.
func (v val) appendJSON(b []byte) []byte {
	switch v.K {
	case kString, kDate:
		return appendJSONString(b, v.S)
	case kNumber:
		return appendNumber(b, v.N)
	case kBool:
		return strconv.AppendBool(b, v.B)
	case kDateTime:
		return appendJSONString(b, formatDateTime(v.T))
	default:
		return append(b, "null"...)
	}
}

// text is the value as a string, for history rows and messages.
func (v val) text() string {
	switch v.K {
	case kString, kDate:
		return v.S
	case kNumber:
		return string(appendNumber(nil, v.N))
	case kBool:
		return strconv.FormatBool(v.B)
	case kDateTime:
		return formatDateTime(v.T)
	default:
		return ""
	}
}

func appendNumber(b []byte, n float64) []byte {
	if math.IsNaN(n) || math.IsInf(n, 0) {
		return append(b, "null"...)
	}
	if n == math.Trunc(n) && math.Abs(n) < 1e15 {
		b = strconv.AppendFloat(b, n, 'f', -1, 64)
		return append(b, ".0"...)
	}
	return strconv.AppendFloat(b, n, 'g', -1, 64)
}

// appendJSONString appends s as a JSON string literal.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// parseDate checks a YYYY-MM-DD date.
func parseDate(s string) (string, bool) {
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		return "", false
	}
	return t.Format(dateLayout), true
}

// neverExpires reports whether an expiration date means "does not expire".
func neverExpires(d string) bool {
	return d == "" || d == "1970-01-01"
}

// addDays adds n days to a YYYY-MM-DD date.
func addDays(d string, n int) string {
	t, err := time.Parse(dateLayout, d)
	if err != nil {
		return d
	}
	return t.AddDate(0, 0, n).Format(dateLayout)
}

func lower(s string) string { return strings.ToLower(s) }

// parseDateMillis is midnight UTC of a YYYY-MM-DD date in milliseconds since the epoch.
func parseDateMillis(s string) (int64, bool) {
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		return 0, false
	}
	return t.UnixMilli(), true
}
