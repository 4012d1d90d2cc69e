package salesforce

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDateDecoding(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		want    Date
		never   bool
		wantErr bool
	}{
		{"a date decodes", `"2027-06-30"`, Date{2027, time.June, 30}, false, false},
		{"null is the empty date", `null`, Date{}, true, false},
		{"the empty string is the empty date", `""`, Date{}, true, false},
		{"1970-01-01 means does not expire", `"1970-01-01"`, Date{1970, time.January, 1}, true, false},
		{"a datetime is not a date", `"2027-06-30T00:00:00Z"`, Date{}, false, true},
		{"a number is not a date", `20270630`, Date{}, false, true},
		{"an impossible day is refused", `"2027-02-30"`, Date{}, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var d Date
			err := json.Unmarshal([]byte(tc.in), &d)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err != nil {
				return
			}
			if d != tc.want || d.IsNever() != tc.never {
				t.Fatalf("got %+v never=%v", d, d.IsNever())
			}
		})
	}
}

func TestDateRoundTrip(t *testing.T) {
	for _, d := range []Date{{}, {2027, time.June, 30}} {
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var back Date
		if err := json.Unmarshal(b, &back); err != nil || back != d {
			t.Fatalf("%s -> %+v, %v", b, back, err)
		}
	}
	if got := (Date{2027, time.June, 30}).String(); got != "2027-06-30" {
		t.Fatalf("String = %q", got)
	}
	if !(Date{2027, 1, 1}).Before(Date{2027, 1, 2}) {
		t.Fatal("Before")
	}
}

func TestDateTime(t *testing.T) {
	want := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for _, in := range []string{`"2026-11-23T10:00:00.000+0000"`, `"2026-11-23T11:00:00.000+0100"`, `"2026-11-23T10:00:00Z"`, `"2026-11-23T10:00:00.000Z"`} {
		var dt DateTime
		if err := json.Unmarshal([]byte(in), &dt); err != nil || !dt.Time.Equal(want) {
			t.Errorf("%s -> %v, %v", in, dt, err)
		}
	}
	var dt DateTime
	if err := json.Unmarshal([]byte(`null`), &dt); err != nil || !dt.IsZero() {
		t.Errorf("null -> %v, %v", dt, err)
	}
	if err := json.Unmarshal([]byte(`"yesterday"`), &dt); err == nil {
		t.Error("a non-datetime decoded")
	}
	// SOQL datetime literals in the documented form YYYY-MM-DDThh:mm:ssZ, floored to the second (for
	// a "> since" filter, flooring re-reads a little and misses nothing).
	if got := SOQLDateTime(want.Add(750 * time.Millisecond).In(time.FixedZone("x", 3600))); got != "2026-11-23T10:00:00Z" {
		t.Errorf("SOQLDateTime = %q", got)
	}
	if got := (DateTime{want}).SOQL(); got != "2026-11-23T10:00:00Z" {
		t.Errorf("SOQL = %q", got)
	}
	b, _ := json.Marshal(DateTime{want})
	if string(b) != `"2026-11-23T10:00:00.000Z"` {
		t.Errorf("MarshalJSON = %s", b)
	}
	if diff := cmp.Diff(DateTime{want}, DateTime{want.In(time.FixedZone("y", -3600))}); diff != "" {
		t.Errorf("the same instant should compare equal: %s", diff)
	}
}

func TestQuoteString(t *testing.T) {
	cases := map[string]string{
		"Acme":                    `'Acme'`,
		"O'Brien":                 `'O\'Brien'`,
		`back\slash`:              `'back\\slash'`,
		`' OR Name != '`:          `'\' OR Name != \''`,
		"line\nbreak\ttab\x00nul": `'line\nbreak\ttabnul'`,
		`"double"`:                `'\"double\"'`,
	}
	for in, want := range cases {
		if got := QuoteString(in); got != want {
			t.Errorf("QuoteString(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestFeatureParameterValues(t *testing.T) {
	v := func(raw string) FeatureParameterValue { return FeatureParameterValue{Value: json.RawMessage(raw)} }
	if b, err := v(`true`).Bool(); err != nil || !b {
		t.Errorf("Bool(true) = %v, %v", b, err)
	}
	if b, err := v(`"false"`).Bool(); err != nil || b {
		t.Errorf(`Bool("false") = %v, %v`, b, err)
	}
	if _, err := v(`1`).Bool(); err == nil {
		t.Error("Bool(1) should fail")
	}
	if n, err := v(`50.0`).Int(); err != nil || n != 50 {
		t.Errorf("Int(50.0) = %v, %v", n, err)
	}
	if n, err := v(`"42"`).Int(); err != nil || n != 42 {
		t.Errorf(`Int("42") = %v, %v`, n, err)
	}
	if _, err := v(`1.5`).Int(); err == nil {
		t.Error("Int(1.5) should fail")
	}
	if _, err := v(`1e300`).Int(); err == nil {
		t.Error("Int(1e300) should fail")
	}
	if d, err := v(`"2027-06-30"`).Date(); err != nil || d != (Date{2027, time.June, 30}) {
		t.Errorf("Date = %v, %v", d, err)
	}
	if _, err := v(`true`).Date(); err == nil {
		t.Error("Date(true) should fail")
	}
	var rec FeatureParameterValue
	if err := json.Unmarshal([]byte(`{"Id":"x","sfFma__Value__c":null}`), &rec); err != nil || !rec.IsNull() {
		t.Errorf("null value: %v %v", rec.IsNull(), err)
	}
	if _, err := rec.Int(); err == nil {
		t.Error("Int of null should fail")
	}
	if ValueObjectFor(DataTypeInteger) != FeatureParameterInteger || ValueObjectFor("Text") != "" {
		t.Error("ValueObjectFor")
	}
}

func TestUsageHelpers(t *testing.T) {
	u := Usage{Used: 250, Max: 1000}
	if u.Remaining() != 750 || u.Fraction() != 0.25 {
		t.Fatalf("%+v: %d %v", u, u.Remaining(), u.Fraction())
	}
	if (Usage{}).Fraction() != 1 || (Usage{Used: 20, Max: 10}).Remaining() != 0 {
		t.Fatal("unknown or exceeded usage")
	}
}

func TestDecodeAPIError(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		want   APIError
	}{
		{"the error array", 400, `[{"message":"bad field","errorCode":"INVALID_FIELD","fields":["Foo__c"]}]`,
			APIError{StatusCode: 400, Code: "INVALID_FIELD", Message: "bad field", Fields: []string{"Foo__c"}}},
		{"INVALID_SESSION_ID wins over other entries", 401, `[{"errorCode":"OTHER"},{"errorCode":"INVALID_SESSION_ID","message":"expired"}]`,
			APIError{StatusCode: 401, Code: "INVALID_SESSION_ID", Message: "expired"}},
		{"a single object", 503, `{"errorCode":"SERVER_UNAVAILABLE","message":"down"}`,
			APIError{StatusCode: 503, Code: "SERVER_UNAVAILABLE", Message: "down"}},
		{"html", 502, `<html>bad gateway</html>`, APIError{StatusCode: 502, Message: "Bad Gateway (unparseable error body)"}},
		{"an empty body", 412, ``, APIError{StatusCode: 412, Message: "Precondition Failed"}},
		{"control characters are dropped", 400, `[{"errorCode":"X","message":"a\nb"}]`, APIError{StatusCode: 400, Code: "X", Message: "a b"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(&tc.want, decodeAPIError(tc.status, []byte(tc.body))); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}
