package engine

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/lmo-operator/lmo-operator/internal/salesforce"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/sfid"
)

const (
	pkgRecord   = "a0P000000000001AAA"
	pkgID       = "033000000000001AAA"
	paramMax    = "a0F000000000001AAA"
	paramUsers  = "a0F000000000002AAA"
	valMaxA     = "a0I000000000001AAA"
	valMaxB     = "a0I000000000002AAA"
	valUsersA   = "a0I000000000003AAA"
	subOrgA     = "00D5g000004XyZ1AAA"
	subOrgB     = "00D5g000004AbC2AAA"
	subOrgOther = "00D5g000004Zzz9AAA"
)

var mirrorNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func ptrF(f float64) *float64 { return &f }
func ptrI(n int64) *int64     { return &n }

// licenseRecord is a license as a query returns it; modify adjusts it.
func licenseRecord(id, subOrg string, modify ...func(*salesforce.License)) salesforce.License {
	r := salesforce.License{ID: id, Name: "L-" + id[len(id)-4:], Status: salesforce.StatusActive, Seats: ptrF(50),
		Expiration: salesforce.Date{Year: 2027, Month: time.June, Day: 30}, SubscriberOrgID: subOrg,
		PackageRecordID: pkgRecord, Package: &salesforce.PackageRef{PackageID: pkgID}, VersionNumber: "1.4.0",
		LastModifiedBy: &salesforce.Name{Name: "Integration User"}, LastModifiedDate: salesforce.DateTime{Time: mirrorNow},
		SystemModstamp: salesforce.DateTime{Time: mirrorNow}}
	for _, m := range modify {
		m(&r)
	}
	return r
}

func intValue(id, paramID, licenseID, raw string) typedValue {
	return typedValue{dataType: salesforce.DataTypeInteger, FeatureParameterValue: salesforce.FeatureParameterValue{
		ID: id, FeatureParameterID: paramID, LicenseID: licenseID, Value: json.RawMessage(raw),
		LastModifiedBy: &salesforce.Name{Name: "Integration User"}, LastModifiedDate: salesforce.DateTime{Time: mirrorNow}}}
}

// baseSnapshot is an LMO with one package, two Integer parameters and licenses A and B.
func baseSnapshot(licenses ...salesforce.License) snapshot {
	if licenses == nil {
		licenses = []salesforce.License{licenseRecord(licA, subOrgA), licenseRecord(licB, subOrgB)}
	}
	return snapshot{
		packages: []salesforce.Package{{ID: pkgRecord, PackageID: pkgID, Name: "Acme App", LatestVersion: "1.4.0"}},
		params: []salesforce.FeatureParameter{
			{ID: paramMax, FullName: "acme__MaxProjects", DataType: salesforce.DataTypeInteger,
				DataFlowDirection: salesforce.DirectionToSubscriber, PackageRecordID: pkgRecord},
			{ID: paramUsers, FullName: "acme__ActiveUsers", DataType: salesforce.DataTypeInteger,
				DataFlowDirection: salesforce.DirectionToLMO, PackageRecordID: pkgRecord},
		},
		licenses: licenses,
		values: []typedValue{intValue(valMaxA, paramMax, licA, "20"), intValue(valMaxB, paramMax, licB, "5"),
			intValue(valUsersA, paramUsers, licA, "12")},
	}
}

// loadedEngine is an engine (not running) whose mirror holds snap.
func loadedEngine(t *testing.T, snap snapshot) *Engine {
	t.Helper()
	e := New(Config{})
	e.mirror.replace(snap)
	return e
}

var equateEmpty = cmpopts.EquateEmpty()

func TestMirrorReplaceReportsChangedLicenses(t *testing.T) {
	tests := []struct {
		name   string
		before []salesforce.License
		after  []salesforce.License
		values []typedValue // replaces the after snapshot's values when set
		want   []string
	}{
		{
			name:  "the first load reports every license",
			after: []salesforce.License{licenseRecord(licB, subOrgB), licenseRecord(licA, subOrgA)},
			want:  []string{licA, licB},
		},
		{
			name:   "an identical load reports nothing",
			before: []salesforce.License{licenseRecord(licA, subOrgA), licenseRecord(licB, subOrgB)},
			after:  []salesforce.License{licenseRecord(licA, subOrgA), licenseRecord(licB, subOrgB)},
			want:   nil,
		},
		{
			name:   "a new, a changed and a removed license are reported and the unchanged one is not",
			before: []salesforce.License{licenseRecord(licA, subOrgA), licenseRecord(licB, subOrgB), licenseRecord(licC, subOrgA)},
			after: []salesforce.License{
				licenseRecord(licA, subOrgA),
				licenseRecord(licB, subOrgB, func(l *salesforce.License) { l.Seats = ptrF(75) }),
				licenseRecord(licD, subOrgA),
			},
			want: []string{licB, licC, licD},
		},
		{
			name:   "a changed feature parameter value reports its license",
			before: []salesforce.License{licenseRecord(licA, subOrgA), licenseRecord(licB, subOrgB)},
			after:  []salesforce.License{licenseRecord(licA, subOrgA), licenseRecord(licB, subOrgB)},
			values: []typedValue{intValue(valMaxA, paramMax, licA, "20"), intValue(valMaxB, paramMax, licB, "6"),
				intValue(valUsersA, paramUsers, licA, "12")},
			want: []string{licB},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMirror()
			if tt.before != nil {
				m.replace(baseSnapshot(tt.before...))
			}
			snap := baseSnapshot(tt.after...)
			if tt.values != nil {
				snap.values = tt.values
			}
			snap.readGen = m.generation() // the load began after the one before was applied
			got := m.replace(snap)
			if diff := cmp.Diff(tt.want, got, equateEmpty); diff != "" {
				t.Errorf("replace changed ids mismatch (-want +got):\n%s", diff)
			}
			if !m.loaded {
				t.Errorf("the mirror is not marked loaded after replace")
			}
			if len(m.licenses) != len(tt.after) {
				t.Errorf("the mirror holds %d licenses after replace, want %d", len(m.licenses), len(tt.after))
			}
		})
	}
}

func TestMirrorLicenseFields(t *testing.T) {
	tests := []struct {
		name       string
		modify     func(*salesforce.License)
		expiration string
		seats      *int64
	}{
		{"a dated expiration is kept", func(*salesforce.License) {}, "2027-06-30", ptrI(50)},
		{"an empty expiration never expires", func(l *salesforce.License) { l.Expiration = salesforce.Date{} }, Never, ptrI(50)},
		{"1970-01-01 never expires", func(l *salesforce.License) { l.Expiration = salesforce.Date{Year: 1970, Month: time.January, Day: 1} },
			Never, ptrI(50)},
		{"a negative seat count is a site license of -1", func(l *salesforce.License) { l.Seats = ptrF(-1) }, "2027-06-30", ptrI(-1)},
		{"a record without seats has none", func(l *salesforce.License) { l.Seats = nil }, "2027-06-30", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := loadedEngine(t, baseSnapshot(licenseRecord(licA, subOrgA, tt.modify)))
			l, ok := e.License(licA)
			if !ok {
				t.Fatalf("License(%s) not found", licA)
			}
			if l.Expiration != tt.expiration {
				t.Errorf("Expiration = %q, want %q", l.Expiration, tt.expiration)
			}
			if diff := cmp.Diff(tt.seats, l.Seats); diff != "" {
				t.Errorf("Seats mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMirrorLicenseView(t *testing.T) {
	e := loadedEngine(t, baseSnapshot())
	want := License{ID: licA, Name: "L-1AAA", PackageID: pkgID, SubscriberOrgID: subOrgA, Status: salesforce.StatusActive,
		Seats: ptrI(50), Expiration: "2027-06-30", VersionNumber: "1.4.0", LastModifiedBy: "Integration User",
		LastModifiedAt: mirrorNow, SystemModstamp: mirrorNow,
		Params: ParamValues{
			{Name: "acme__ActiveUsers", RecordID: valUsersA, DataType: salesforce.DataTypeInteger,
				Direction: salesforce.DirectionToLMO, Value: "12", LastModifiedBy: "Integration User", LastModifiedAt: mirrorNow},
			{Name: "acme__MaxProjects", RecordID: valMaxA, DataType: salesforce.DataTypeInteger,
				Direction: salesforce.DirectionToSubscriber, Value: "20", LastModifiedBy: "Integration User", LastModifiedAt: mirrorNow},
		}}
	for _, id := range []string{licA, sfid.Key15(licA)} {
		got, ok := e.License(id)
		if !ok {
			t.Fatalf("License(%s) not found", id)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("License(%s) mismatch (-want +got):\n%s", id, diff)
		}
	}

	t.Run("changing the params of a returned copy leaves the mirror alone", func(t *testing.T) {
		got, _ := e.License(licA)
		got.Params[1] = ParamValue{Name: "acme__MaxProjects", Value: "999"}
		got.Changes = FieldChanges{{Field: salesforce.FieldSeats, By: "someone"}}
		again, _ := e.License(licA)
		if diff := cmp.Diff(want, again); diff != "" {
			t.Errorf("changing a returned copy changed the mirror (-want +got):\n%s", diff)
		}
	})

	t.Run("changing the seats of a returned copy leaves the mirror alone", func(t *testing.T) {
		got, _ := e.License(licA)
		*got.Seats = 999
		again, _ := e.License(licA)
		if diff := cmp.Diff(want, again); diff != "" {
			t.Errorf("changing a returned copy changed the mirror (-want +got):\n%s", diff)
		}
	})
}

func TestMirrorSubscriberIndex(t *testing.T) {
	e := loadedEngine(t, baseSnapshot(
		licenseRecord(licA, subOrgA),
		licenseRecord(licB, subOrgB),
		licenseRecord(licC, sfid.Key15(subOrgA)), // a record that stores the 15-character org id
	))
	tests := []struct {
		name    string
		pkg     string
		subOrg  string
		wantIDs []string
	}{
		{"the 18-character org id finds every record of the org", pkgID, subOrgA, []string{licA, licC}},
		{"the 15-character org id finds the same records", pkgID, sfid.Key15(subOrgA), []string{licA, licC}},
		{"another org finds only its own record", pkgID, subOrgB, []string{licB}},
		{"an org without an install finds nothing", pkgID, subOrgOther, nil},
		{"another package finds nothing", "033000000000009AAA", subOrgA, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, l := range e.SubscriberLicenses(tt.pkg, tt.subOrg) {
				got = append(got, l.ID)
			}
			if diff := cmp.Diff(tt.wantIDs, got, equateEmpty); diff != "" {
				t.Errorf("SubscriberLicenses(%s, %s) mismatch (-want +got):\n%s", tt.pkg, tt.subOrg, diff)
			}
		})
	}

	t.Run("the 15-character package id finds the same records", func(t *testing.T) {
		var got []string
		for _, l := range e.SubscriberLicenses(sfid.Key15(pkgID), subOrgA) {
			got = append(got, l.ID)
		}
		if diff := cmp.Diff([]string{licA, licC}, got, equateEmpty); diff != "" {
			t.Errorf("SubscriberLicenses(%s, %s) mismatch (-want +got):\n%s", sfid.Key15(pkgID), subOrgA, diff)
		}
	})

	t.Run("a license moved to another org is indexed under its new org only", func(t *testing.T) {
		e := loadedEngine(t, baseSnapshot())
		e.mirror.applyIncremental([]salesforce.License{licenseRecord(licA, subOrgOther, func(l *salesforce.License) {
			l.SystemModstamp = salesforce.DateTime{Time: mirrorNow.Add(time.Minute)}
		})}, nil, nil)
		if got := e.SubscriberLicenses(pkgID, subOrgA); len(got) != 0 {
			t.Errorf("the old org still finds %d licenses", len(got))
		}
		got := e.SubscriberLicenses(pkgID, subOrgOther)
		if len(got) != 1 || got[0].ID != licA {
			t.Errorf("the new org finds %+v, want license %s", got, licA)
		}
	})
}

func TestMirrorApplyIncremental(t *testing.T) {
	dana := &salesforce.Name{Name: "Dana Admin"}
	at := mirrorNow.Add(time.Minute)
	seatsHistory := salesforce.HistoryRow{ID: "017000000000001AAA", ParentID: licA, Field: salesforce.FieldSeats,
		CreatedBy: dana, CreatedDate: salesforce.DateTime{Time: at}}
	tests := []struct {
		name        string
		licenses    []salesforce.License
		values      []typedValue
		history     []salesforce.HistoryRow
		want        []string
		wantChanges map[string]map[string]FieldChange // license id -> Changes
		wantValue   map[string]string                 // license id -> acme__MaxProjects
		wantSeats   map[string]int64
	}{
		{
			name: "a changed license field reports the license",
			licenses: []salesforce.License{licenseRecord(licA, subOrgA, func(l *salesforce.License) {
				l.Seats = ptrF(60)
				l.SystemModstamp = salesforce.DateTime{Time: mirrorNow.Add(time.Minute)}
				l.LastModifiedBy, l.LastModifiedDate = dana, salesforce.DateTime{Time: at}
			})},
			want:      []string{licA},
			wantSeats: map[string]int64{licA: 60},
		},
		{
			name:      "a changed value record reports its license",
			values:    []typedValue{intValue(valMaxB, paramMax, licB, "9")},
			want:      []string{licB},
			wantValue: map[string]string{licB: "9", licA: "20"},
		},
		{
			name:        "a history row records who changed the field and reports the license",
			history:     []salesforce.HistoryRow{seatsHistory},
			want:        []string{licA},
			wantChanges: map[string]map[string]FieldChange{licA: {salesforce.FieldSeats: {By: "Dana Admin", At: at}}},
		},
		{
			name:     "an unchanged license and an unchanged value are not reported",
			licenses: []salesforce.License{licenseRecord(licA, subOrgA), licenseRecord(licB, subOrgB)},
			values:   []typedValue{intValue(valMaxA, paramMax, licA, "20")},
			want:     nil,
		},
		{
			name: "the creation row and rows of unknown licenses are ignored",
			history: []salesforce.HistoryRow{
				{ID: "017000000000002AAA", ParentID: licA, Field: "created", CreatedBy: dana, CreatedDate: salesforce.DateTime{Time: at}},
				{ID: "017000000000003AAA", ParentID: licD, Field: salesforce.FieldSeats, CreatedBy: dana, CreatedDate: salesforce.DateTime{Time: at}},
			},
			want:        nil,
			wantChanges: map[string]map[string]FieldChange{licA: nil},
		},
		{
			name: "a license, a value and a history row together report both licenses once",
			licenses: []salesforce.License{licenseRecord(licA, subOrgA, func(l *salesforce.License) {
				l.Seats = ptrF(60)
				l.SystemModstamp = salesforce.DateTime{Time: mirrorNow.Add(time.Minute)}
			})},
			values:      []typedValue{intValue(valMaxB, paramMax, licB, "9"), intValue(valMaxA, paramMax, licA, "20")},
			history:     []salesforce.HistoryRow{seatsHistory},
			want:        []string{licA, licB},
			wantChanges: map[string]map[string]FieldChange{licA: {salesforce.FieldSeats: {By: "Dana Admin", At: at}}},
			wantValue:   map[string]string{licA: "20", licB: "9"},
			wantSeats:   map[string]int64{licA: 60, licB: 50},
		},
		{
			name:     "a new license is reported",
			licenses: []salesforce.License{licenseRecord(licC, subOrgOther)},
			want:     []string{licC},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := loadedEngine(t, baseSnapshot())
			got := e.mirror.applyIncremental(tt.licenses, tt.values, tt.history)
			if diff := cmp.Diff(tt.want, got, equateEmpty); diff != "" {
				t.Errorf("applyIncremental changed ids mismatch (-want +got):\n%s", diff)
			}
			for id, want := range tt.wantChanges {
				l, _ := e.License(id)
				got := map[string]FieldChange{}
				for _, c := range l.Changes {
					field := c.Field
					c.Field = ""
					got[field] = c
				}
				if diff := cmp.Diff(want, got, equateEmpty); diff != "" {
					t.Errorf("license %s Changes mismatch (-want +got):\n%s", id, diff)
				}
			}
			for id, want := range tt.wantValue {
				l, _ := e.License(id)
				if got := l.Params.Get("acme__MaxProjects").Value; got != want {
					t.Errorf("license %s acme__MaxProjects = %q, want %q", id, got, want)
				}
			}
			for id, want := range tt.wantSeats {
				l, _ := e.License(id)
				if l.Seats == nil || *l.Seats != want {
					t.Errorf("license %s seats = %v, want %d", id, l.Seats, want)
				}
			}
			// A license record re-read keeps its values and history.
			if l, _ := e.License(licA); l.Params.Get("acme__ActiveUsers").Value != "12" {
				t.Errorf("license %s lost its acme__ActiveUsers value: %+v", licA, l.Params)
			}
		})
	}
}

func TestMirrorApplyIncrementalRereadIsQuiet(t *testing.T) {
	// Every poll re-reads the last pollOverlap before the watermark, so the same rows come back:
	// rows already applied must not report their license again (no reconcile per poll).
	dana := &salesforce.Name{Name: "Dana Admin"}
	at := salesforce.DateTime{Time: mirrorNow.Add(time.Minute)}
	licenses := []salesforce.License{licenseRecord(licA, subOrgA, func(l *salesforce.License) {
		l.Seats = ptrF(60)
		l.SystemModstamp = at
	})}
	values := []typedValue{intValue(valMaxB, paramMax, licB, "9")}
	history := []salesforce.HistoryRow{{ID: "017000000000001AAA", ParentID: licA, Field: salesforce.FieldSeats,
		CreatedBy: dana, CreatedDate: at}}

	tests := []struct {
		name     string
		licenses []salesforce.License
		values   []typedValue
		history  []salesforce.HistoryRow
		skip     string
	}{
		{name: "a re-read license is not reported again", licenses: licenses},
		{name: "a re-read value record is not reported again", values: values},
		{name: "a re-read history row is not reported again", history: history},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.skip != "" {
				t.Skip(tt.skip)
			}
			e := loadedEngine(t, baseSnapshot())
			if first := e.mirror.applyIncremental(tt.licenses, tt.values, tt.history); len(first) == 0 {
				t.Fatalf("the first apply reported nothing")
			}
			if got := e.mirror.applyIncremental(tt.licenses, tt.values, tt.history); len(got) != 0 {
				t.Errorf("the second apply of the same rows reported %v, want nothing", got)
			}
		})
	}
}

func TestMirrorApplyWrite(t *testing.T) {
	tests := []struct {
		name   string
		update salesforce.RecordUpdate
		// stale builds the write on an older copy of the record than the mirror holds now.
		stale  bool
		wantID string
		want   func(l *License)
	}{
		{
			name: "an answer for an older copy than the mirror's is not applied over it",
			update: salesforce.RecordUpdate{SObject: salesforce.LicenseObject, ID: licA,
				Fields: map[string]any{salesforce.FieldSeats: int64(75)}},
			stale:  true,
			wantID: "",
			want:   func(*License) {},
		},
		{
			name: "a value answer for an older copy is not applied",
			update: salesforce.RecordUpdate{SObject: salesforce.FeatureParameterInteger, ID: valMaxA,
				Fields: map[string]any{salesforce.FieldFeatureParameterValue: int64(42)}},
			stale:  true,
			wantID: "",
			want:   func(*License) {},
		},
		{
			name: "status, seats and a date are set on the license",
			update: salesforce.RecordUpdate{SObject: salesforce.LicenseObject, ID: licA, Fields: map[string]any{
				salesforce.FieldStatus: salesforce.StatusSuspended, salesforce.FieldSeats: int64(75),
				salesforce.FieldExpiration: "2028-01-31"}},
			wantID: licA,
			want: func(l *License) {
				l.Status, l.Seats, l.Expiration = salesforce.StatusSuspended, ptrI(75), "2028-01-31"
			},
		},
		{
			name: "a null expiration never expires",
			update: salesforce.RecordUpdate{SObject: salesforce.LicenseObject, ID: sfid.Key15(licA),
				Fields: map[string]any{salesforce.FieldExpiration: nil}},
			wantID: licA,
			want:   func(l *License) { l.Expiration = Never },
		},
		{
			name: "a site license is -1 seats",
			update: salesforce.RecordUpdate{SObject: salesforce.LicenseObject, ID: licA,
				Fields: map[string]any{salesforce.FieldSeats: int64(-1)}},
			wantID: licA,
			want:   func(l *License) { l.Seats = ptrI(-1) },
		},
		{
			name: "a value record sets the license's parameter value",
			update: salesforce.RecordUpdate{SObject: salesforce.FeatureParameterInteger, ID: valMaxA,
				Fields: map[string]any{salesforce.FieldFeatureParameterValue: int64(42)}},
			wantID: licA,
			want: func(l *License) {
				pv := l.Params.Get("acme__MaxProjects")
				pv.Value = "42"
				l.Params = l.Params.with(pv)
			},
		},
		{
			name: "a null value empties the parameter",
			update: salesforce.RecordUpdate{SObject: salesforce.FeatureParameterInteger, ID: valMaxA,
				Fields: map[string]any{salesforce.FieldFeatureParameterValue: nil}},
			wantID: licA,
			want: func(l *License) {
				pv := l.Params.Get("acme__MaxProjects")
				pv.Value = ""
				l.Params = l.Params.with(pv)
			},
		},
		{
			name: "an unknown record changes nothing",
			update: salesforce.RecordUpdate{SObject: salesforce.LicenseObject, ID: "a0N000000000099AAA",
				Fields: map[string]any{salesforce.FieldSeats: int64(1)}},
			wantID: "",
			want:   func(*License) {},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := loadedEngine(t, baseSnapshot())
			before, _ := e.License(licA)
			want, _ := e.License(licA)
			tt.want(&want)

			stamp := before.SystemModstamp
			if tt.update.SObject != salesforce.LicenseObject {
				stamp = before.Params.Get("acme__MaxProjects").SystemModstamp
			}
			if tt.stale {
				stamp = stamp.Add(-time.Second)
			}
			built := e.mirror.heldVersion(tt.update.ID, stamp)
			if got := e.mirror.applyWrite(tt.update, built); got != tt.wantID {
				t.Errorf("applyWrite returned %q, want %q", got, tt.wantID)
			}
			got, _ := e.License(licA)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("license after applyWrite mismatch (-want +got):\n%s", diff)
			}
			if other, _ := e.License(licB); other.Params.Get("acme__MaxProjects").Value != "5" || *other.Seats != 50 {
				t.Errorf("applyWrite changed another license: %+v", other)
			}
			// A copy taken before the write still shows the old state.
			if before.Params.Get("acme__MaxProjects").Value != "20" || *before.Seats != 50 {
				t.Errorf("applyWrite changed a copy taken before it: %+v", before)
			}
		})
	}
}

// Copies of one second: which of two copies with the same SystemModstamp is newer is told by the
// reads that brought them, never guessed.
func TestMirrorOrdersCopiesOfOneSecondByTheirReads(t *testing.T) {
	seats := func(n float64, by string) salesforce.License {
		return licenseRecord(licA, subOrgA, func(l *salesforce.License) {
			l.Seats, l.LastModifiedBy = ptrF(n), &salesforce.Name{Name: by}
		})
	}
	tests := []struct {
		name string
		// early is true when the second read began before the first one was applied.
		early     bool
		second    salesforce.License
		wantSeats int64
		wantStale []string
	}{
		{name: "a later read's different copy of the same second is taken", second: seats(61, "Dana Admin"), wantSeats: 61},
		{name: "a later read's copy stamped earlier is taken (a late commit)", second: licenseRecord(licA, subOrgA, func(l *salesforce.License) {
			l.Seats, l.SystemModstamp = ptrF(62), salesforce.DateTime{Time: mirrorNow.Add(-3 * time.Second)}
		}), wantSeats: 62},
		{name: "an overlapping read's equal copy is ignored quietly", early: true, second: seats(60, "Dana Admin"), wantSeats: 60},
		{name: "an overlapping read's copy stamped later is taken", early: true, second: licenseRecord(licA, subOrgA, func(l *salesforce.License) {
			l.Seats, l.SystemModstamp = ptrF(63), salesforce.DateTime{Time: mirrorNow.Add(time.Second)}
		}), wantSeats: 63},
		{name: "an overlapping read's copy stamped earlier is ignored", early: true, second: licenseRecord(licA, subOrgA, func(l *salesforce.License) {
			l.Seats, l.SystemModstamp = ptrF(49), salesforce.DateTime{Time: mirrorNow.Add(-time.Second)}
		}), wantSeats: 60},
		{name: "an overlapping read's different copy of the same second is read again", early: true, second: seats(50, "Integration User"),
			wantSeats: 60, wantStale: []string{licA}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMirror()
			m.replace(baseSnapshot())
			gen := m.generation()
			if _, stale := m.applyRead([]salesforce.License{seats(60, "Dana Admin")}, nil, nil, gen); len(stale) != 0 {
				t.Fatalf("the first read was not taken: stale %v", stale)
			}
			if !tt.early {
				gen = m.generation()
			}
			_, stale := m.applyRead([]salesforce.License{tt.second}, nil, nil, gen)
			if l, _ := m.license(licA); *l.Seats != tt.wantSeats {
				t.Errorf("seats = %d, want %d", *l.Seats, tt.wantSeats)
			}
			if diff := cmp.Diff(tt.wantStale, stale, equateEmpty); diff != "" {
				t.Errorf("records to read again (-want +got):\n%s", diff)
			}
		})
	}
}

// PackageLicenses hands out the mirror's own records: a later poll or write answer must replace a
// record, never change it in place, so what a caller took before keeps what it showed.
func TestPackageLicensesKeepTheirValuesAcrossLaterChanges(t *testing.T) {
	e := loadedEngine(t, baseSnapshot())
	before := e.PackageLicenses(pkgID)
	at := mirrorNow.Add(time.Minute)
	history := []salesforce.HistoryRow{{ID: "017000000000001AAA", ParentID: licA, Field: salesforce.FieldSeats,
		CreatedDate: salesforce.DateTime{Time: at}, CreatedBy: &salesforce.Name{Name: "Dana Admin"}}}
	e.mirror.applyIncremental(nil, []typedValue{intValue(valMaxA, paramMax, licA, "21")}, history)
	built := e.mirror.heldVersion(valMaxB, before[1].Params.Get("acme__MaxProjects").SystemModstamp)
	e.mirror.applyWrite(salesforce.RecordUpdate{SObject: salesforce.FeatureParameterInteger, ID: valMaxB,
		Fields: map[string]any{salesforce.FieldFeatureParameterValue: int64(6)}}, built)

	after := e.PackageLicenses(pkgID)
	if len(before) != 2 || len(after) != 2 {
		t.Fatalf("PackageLicenses: %d then %d licenses, want 2", len(before), len(after))
	}
	if got := []string{after[0].Params.Get("acme__MaxProjects").Value, after[1].Params.Get("acme__MaxProjects").Value}; got[0] != "21" || got[1] != "6" {
		t.Fatalf("the changes did not reach the mirror: MaxProjects %v", got)
	}
	if _, ok := after[0].Changes.Lookup(salesforce.FieldSeats); !ok {
		t.Fatalf("the history row did not reach the mirror: %+v", after[0].Changes)
	}
	if got := []string{before[0].Params.Get("acme__MaxProjects").Value, before[1].Params.Get("acme__MaxProjects").Value}; got[0] != "20" || got[1] != "5" {
		t.Errorf("a copy taken before shows MaxProjects %v, want [20 5]", got)
	}
	if len(before[0].Changes) != 0 || before[0].TermsChanged {
		t.Errorf("a copy taken before shows changes %+v (terms changed: %v)", before[0].Changes, before[0].TermsChanged)
	}
	if !after[0].TermsChanged {
		t.Errorf("the history row of seats did not mark the terms changed")
	}
}

// replace swaps in a full load, as the engine's full load does, and returns the ids of the licenses
// that are new or changed.
func (m *mirror) replace(s snapshot) []string {
	changed, _ := m.replaceRead(s)
	return changed
}

// applyIncremental patches the mirror with records read now, as a poll does, and returns the ids of
// the licenses whose mirrored state changed.
func (m *mirror) applyIncremental(licenses []salesforce.License, values []typedValue, history []salesforce.HistoryRow) []string {
	changed, _ := m.applyRead(licenses, values, history, m.generation())
	return changed
}

// heldVersion is versionOf taken under the mirror's read lock, as the writer's reads take it.
func (m *mirror) heldVersion(id string, stamp time.Time) copyVersion {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.versionOf(id, stamp)
}
