package lmosim

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseSOQL(t *testing.T) {
	tests := []struct {
		name    string
		soql    string
		wantErr string
		wantObj string
		wantSel []string
		wantLim int
		wantOrd int
		wantCnt bool
	}{
		{name: "a simple select parses", soql: "SELECT Id, Name FROM sfLma__License__c", wantObj: "sfLma__License__c", wantSel: []string{"Id", "Name"}, wantLim: -1},
		{name: "keywords are case-insensitive", soql: "select id from Organization limit 5", wantObj: "Organization", wantSel: []string{"id"}, wantLim: 5},
		{name: "relationship fields are kept dotted", soql: "SELECT sfLma__Package__r.sfLma__Package_ID__c FROM sfLma__License__c", wantObj: "sfLma__License__c", wantSel: []string{"sfLma__Package__r.sfLma__Package_ID__c"}, wantLim: -1},
		{name: "COUNT() is an aggregate", soql: "SELECT COUNT() FROM sfLma__License__c WHERE sfLma__Status__c = 'Active'", wantObj: "sfLma__License__c", wantCnt: true, wantLim: -1},
		{name: "order by with nulls", soql: "SELECT Id FROM User ORDER BY Name DESC NULLS LAST, Id LIMIT 10 OFFSET 2", wantObj: "User", wantSel: []string{"Id"}, wantLim: 10, wantOrd: 2},
		{name: "datetime literals are unquoted", soql: "SELECT Id FROM sfLma__License__c WHERE SystemModstamp > 2026-11-23T10:00:00.000Z", wantObj: "sfLma__License__c", wantSel: []string{"Id"}, wantLim: -1},
		{name: "offsets with +0000 parse", soql: "SELECT Id FROM sfLma__License__c WHERE SystemModstamp >= 2026-11-23T10:00:00.000+0000", wantObj: "sfLma__License__c", wantSel: []string{"Id"}, wantLim: -1},
		{name: "NOT IN, LIKE, NOT and parentheses parse", soql: "SELECT Id FROM sfLma__License__c WHERE NOT (Name LIKE 'L-%' OR sfLma__Status__c NOT IN ('Active','Trial')) AND sfLma__Seats__c != null", wantObj: "sfLma__License__c", wantSel: []string{"Id"}, wantLim: -1},
		{name: "a missing FROM is malformed", soql: "SELECT Id", wantErr: "MALFORMED_QUERY"},
		{name: "a trailing comma is malformed", soql: "SELECT Id, FROM User", wantErr: "MALFORMED_QUERY"},
		{name: "an unterminated string is malformed", soql: "SELECT Id FROM User WHERE Name = 'abc", wantErr: "MALFORMED_QUERY"},
		{name: "garbage after the query is malformed", soql: "SELECT Id FROM User LIMIT 5 garbage", wantErr: "MALFORMED_QUERY"},
		{name: "semi-joins are not supported", soql: "SELECT Id FROM User WHERE Id IN (SELECT CreatedById FROM User)", wantErr: "MALFORMED_QUERY"},
		{name: "COUNT(Id) is not supported", soql: "SELECT COUNT(Id) FROM User", wantErr: "MALFORMED_QUERY"},
		{name: "an empty query is malformed", soql: "", wantErr: "MALFORMED_QUERY"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := parseSOQL(tc.soql)
			if tc.wantErr != "" {
				se, ok := err.(*soqlError)
				if !ok || se.code != tc.wantErr {
					t.Fatalf("got %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			got := []any{q.object, q.fields, q.limit, len(q.orderBy), q.count}
			want := []any{tc.wantObj, tc.wantSel, tc.wantLim, tc.wantOrd, tc.wantCnt}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

// ids runs a query against the test seed's store and returns the Ids (or the error code).
func runIDs(t *testing.T, st *store, soql string) ([]string, string) {
	t.Helper()
	q, err := parseSOQL(soql)
	if err != nil {
		return nil, err.(*soqlError).code
	}
	c, serr := compileQuery(q, func(string) bool { return true }, newClock().Now())
	if serr != nil {
		return nil, serr.code
	}
	var out []string
	for _, r := range c.run(st) {
		out = append(out, r.recID())
	}
	return out, ""
}

func TestEvaluateSOQL(t *testing.T) {
	st, err := buildStore(mustSeed(t, testSeed), newClock().Now())
	if err != nil {
		t.Fatal(err)
	}
	all := []string{licActive, licTrial, licUninst, licSuspended}
	tests := []struct {
		name    string
		soql    string
		want    []string
		wantErr string
	}{
		{"no WHERE returns every license in insertion order", "SELECT Id FROM sfLma__License__c", all, ""},
		{"equality on a picklist ignores case", "SELECT Id FROM sfLma__License__c WHERE sfLma__Status__c = 'active'", []string{licActive}, ""},
		{"a 15-character id matches", "SELECT Id FROM sfLma__License__c WHERE Id = 'a0N000000000002'", []string{licTrial}, ""},
		{"IN matches any listed value", "SELECT Id FROM sfLma__License__c WHERE sfLma__Status__c IN ('Trial', 'Suspended')", []string{licTrial, licSuspended}, ""},
		{"NOT IN excludes listed values", "SELECT Id FROM sfLma__License__c WHERE sfLma__Status__c NOT IN ('Trial', 'Suspended')", []string{licActive, licUninst}, ""},
		{"numbers compare numerically", "SELECT Id FROM sfLma__License__c WHERE sfLma__Seats__c > 5", []string{licActive, licTrial}, ""},
		{"negative numbers parse", "SELECT Id FROM sfLma__License__c WHERE sfLma__Seats__c = -1", []string{licSuspended}, ""},
		{"null matches empty dates", "SELECT Id FROM sfLma__License__c WHERE sfLma__Expiration__c = null", []string{licUninst}, ""},
		{"!= null excludes empty dates", "SELECT Id FROM sfLma__License__c WHERE sfLma__Expiration__c != null", []string{licActive, licTrial, licSuspended}, ""},
		{"dates compare as dates", "SELECT Id FROM sfLma__License__c WHERE sfLma__Expiration__c < 2027-01-01 AND sfLma__Expiration__c > 1970-01-01", []string{licTrial}, ""},
		{"OR and parentheses group", "SELECT Id FROM sfLma__License__c WHERE (sfLma__Status__c = 'Trial' OR sfLma__Status__c = 'Active') AND sfLma__Seats__c >= 50", []string{licActive}, ""},
		{"NOT negates", "SELECT Id FROM sfLma__License__c WHERE NOT sfLma__Status__c = 'Active'", []string{licTrial, licUninst, licSuspended}, ""},
		{"LIKE uses % wildcards", "SELECT Id FROM sfLma__License__c WHERE sfLma__Subscriber_Org_ID__c LIKE '00d5g000004a%'", []string{licTrial}, ""},
		{"parent fields filter", "SELECT Id FROM sfLma__License__c WHERE sfLma__Package__r.sfLma__Package_ID__c = '033000000000001AAA' LIMIT 2", []string{licActive, licTrial}, ""},
		{"datetimes compare with offsets", "SELECT Id FROM sfLma__License__c WHERE SystemModstamp > 2026-11-24T11:59:59.999+0000", all, ""},
		{"datetimes after the stamp match nothing", "SELECT Id FROM sfLma__License__c WHERE SystemModstamp > 2026-11-24T12:00:00Z", nil, ""},
		{"date keywords work on datetimes", "SELECT Id FROM sfLma__License__c WHERE CreatedDate = YESTERDAY", all, ""},
		{"NEXT_N_DAYS works on dates", "SELECT Id FROM sfLma__License__c WHERE sfLma__Expiration__c = NEXT_N_DAYS:30", []string{licTrial}, ""},
		{"ORDER BY DESC sorts", "SELECT Id FROM sfLma__License__c ORDER BY sfLma__Seats__c DESC", []string{licActive, licTrial, licUninst, licSuspended}, ""},
		{"ORDER BY puts nulls first by default", "SELECT Id FROM sfLma__License__c ORDER BY sfLma__Expiration__c LIMIT 2", []string{licUninst, licSuspended}, ""},
		{"NULLS LAST moves nulls", "SELECT Id FROM sfLma__License__c ORDER BY sfLma__Expiration__c NULLS LAST LIMIT 1", []string{licSuspended}, ""},
		{"OFFSET skips", "SELECT Id FROM sfLma__License__c OFFSET 3", []string{licSuspended}, ""},
		{"an unknown field is INVALID_FIELD", "SELECT Id FROM sfLma__License__c WHERE Nope__c = 1", nil, "INVALID_FIELD"},
		{"an unknown relationship is INVALID_FIELD", "SELECT Foo__r.Name FROM sfLma__License__c", nil, "INVALID_FIELD"},
		{"an unknown object is INVALID_TYPE", "SELECT Id FROM Opportunity", nil, "INVALID_TYPE"},
		{"a quoted number is refused", "SELECT Id FROM sfLma__License__c WHERE sfLma__Seats__c = '5'", nil, "INVALID_QUERY_FILTER_OPERATOR"},
		{"a duplicate field is malformed", "SELECT Id, id FROM sfLma__License__c", nil, "MALFORMED_QUERY"},
		{"history values can not be filtered", "SELECT Id FROM sfLma__License__History WHERE OldValue = 'x'", nil, "INVALID_FIELD"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, code := runIDs(t, st, tc.soql)
			if diff := cmp.Diff(tc.wantErr, code); diff != "" {
				t.Fatalf("error code (-want +got)\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ids (-want +got)\n%s", diff)
			}
		})
	}
}

func FuzzParseSOQL(f *testing.F) {
	for _, s := range []string{
		"SELECT Id FROM sfLma__License__c",
		"SELECT Id, sfLma__Package__r.sfLma__Package_ID__c FROM sfLma__License__c WHERE SystemModstamp > 2026-11-23T10:00:00.000Z ORDER BY SystemModstamp LIMIT 10",
		"SELECT COUNT() FROM sfLma__License__c WHERE NOT (sfLma__Status__c IN ('Active') OR Name LIKE 'L-%')",
		"SELECT Id FROM sfLma__License__c WHERE sfLma__Expiration__c = LAST_N_DAYS:30",
		"SELECT Id FROM x WHERE a = 'it\\'s' AND b != -1.5 AND c = null",
	} {
		f.Add(s)
	}
	st, err := buildStore(&Seed{}, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src string) {
		q, err := parseSOQL(src)
		if err != nil {
			if _, ok := err.(*soqlError); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		if c, serr := compileQuery(q, func(string) bool { return true }, time.Now()); serr == nil {
			c.run(st)
		}
		if strings.TrimSpace(q.object) == "" {
			t.Fatalf("parsed without an object: %q", src)
		}
	})
}
