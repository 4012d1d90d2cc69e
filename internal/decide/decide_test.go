package decide

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/drift"
	"github.com/lmo-operator/lmo-operator/internal/engine"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/sfid"
)

var today = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

const packageID = "033000000000001AAA"

func ptr[T any](v T) *T { return &v }

// record is an Active record with 50 seats (12 in use), expiring 2027-06-30.
func record(mutate ...func(*engine.License)) engine.License {
	r := engine.License{ID: "a0N000000000001AAA", PackageID: packageID, SubscriberOrgID: "00D5g000004XyZ1AAA",
		Status: "Active", Seats: ptr[int64](50), Expiration: "2027-06-30", UsedLicenses: ptr[int64](12),
		Params: engine.ParamValues{{Name: "acme__MaxProjects", DataType: "Integer", Direction: "LMO to Subscriber", Value: "20"}}}
	for _, m := range mutate {
		m(&r)
	}
	return r
}

func lic(mutate func(*licensingv1alpha1.License)) *licensingv1alpha1.License {
	l := &licensingv1alpha1.License{ObjectMeta: metav1.ObjectMeta{Name: "globex"},
		Spec: licensingv1alpha1.LicenseSpec{SubscriberOrgID: "00D5g000004XyZ1AAA", ManagementPolicy: licensingv1alpha1.PolicyEnforce}}
	if mutate != nil {
		mutate(l)
	}
	return l
}

func seats(n int) func(*licensingv1alpha1.License) {
	return func(l *licensingv1alpha1.License) { l.Spec.Seats = ptr(intstr.FromInt(n)) }
}

func with(fs ...func(*licensingv1alpha1.License)) func(*licensingv1alpha1.License) {
	return func(l *licensingv1alpha1.License) {
		for _, f := range fs {
			f(l)
		}
	}
}

func annotated(k string) func(*licensingv1alpha1.License) {
	return func(l *licensingv1alpha1.License) {
		if l.Annotations == nil {
			l.Annotations = map[string]string{}
		}
		l.Annotations[k] = "true"
	}
}

// approving sets the approval annotation to value.
func approving(value string) func(*licensingv1alpha1.License) {
	return func(l *licensingv1alpha1.License) {
		if l.Annotations == nil {
			l.Annotations = map[string]string{}
		}
		l.Annotations[licensingv1alpha1.AnnotationAllowAccessReduction] = value
	}
}

// seatsTo5 and suspending name the changes the approval cases approve.
var (
	seatsTo5   = drift.ApprovalToken("a0N000000000001AAA", []drift.FieldDrift{{Field: drift.Seats, Desired: "5", Observed: "50"}})
	suspending = drift.ApprovalToken("a0N000000000001AAA", []drift.FieldDrift{{Field: drift.Status, Desired: "Suspended", Observed: "Active"}})
)

var params = map[string]drift.Param{
	"acme__MaxProjects": {DataType: "Integer", Writable: true},
	"acme__ActiveUsers": {DataType: "Integer", Writable: false},
}

// outcome is the part of a verdict the tables compare.
type outcome struct {
	Action, Reason string
	Write          *engine.Write
	Reductions     []string
}

func TestLicense(t *testing.T) {
	deleting := func(l *licensingv1alpha1.License) {
		now := metav1.NewTime(today)
		l.DeletionTimestamp = &now
		l.Spec.DeletionPolicy = licensingv1alpha1.DeletionPolicySuspend
	}
	suspended := "Suspended"
	notEditable := func(r *engine.License) { r.NotEditable = `its license type (sfLma__License_Type__c) is "Read-Only"` }
	active := func(l *licensingv1alpha1.License) { l.Spec.Status = licensingv1alpha1.LicenseStatusActive }
	orgDeleted := func(r *engine.License) {
		r.OrgStatus = "DELETED"
		r.SubscriberOrgGone = `the subscriber org 00D5g000004XyZ1AAA is gone: its org status (sfLma__Org_Status__c) is "DELETED"`
	}
	for name, tc := range map[string]struct {
		lic           *licensingv1alpha1.License
		rec           engine.License
		owner         string
		writesBlocked string
		want          outcome
	}{
		"a record that matches is unchanged": {
			lic: lic(seats(50)), rec: record(),
			want: outcome{Action: ActionUnchanged, Reason: licensingv1alpha1.ReasonSynced},
		},
		"only the fields that differ are written": {
			lic: lic(with(seats(60), func(l *licensingv1alpha1.License) {
				l.Spec.Expiration = "2027-06-30"
				l.Spec.FeatureParameters = []licensingv1alpha1.FeatureParameterValue{{Name: "acme__MaxProjects", Integer: ptr[int64](25)}}
			})), rec: record(),
			want: outcome{Action: ActionUpdate, Reason: licensingv1alpha1.ReasonWriteQueued,
				Write: &engine.Write{LicenseID: "a0N000000000001AAA", Seats: ptr[int64](60), Params: map[string]string{"acme__MaxProjects": "25"}}},
		},
		"Observe reports drift and writes nothing": {
			lic: lic(with(seats(60), func(l *licensingv1alpha1.License) { l.Spec.ManagementPolicy = licensingv1alpha1.PolicyObserve })), rec: record(),
			want: outcome{Action: ActionObserve, Reason: licensingv1alpha1.ReasonDrifted},
		},
		"a paused License writes nothing": {
			lic: lic(with(seats(60), annotated(licensingv1alpha1.AnnotationPaused))), rec: record(),
			want: outcome{Action: ActionPaused, Reason: licensingv1alpha1.ReasonPaused},
		},
		"a paused License that matches is unchanged, and says it is paused": {
			lic: lic(with(seats(50), annotated(licensingv1alpha1.AnnotationPaused))), rec: record(),
			want: outcome{Action: ActionUnchanged, Reason: licensingv1alpha1.ReasonPaused},
		},
		"seats below those in use are held": {
			lic: lic(seats(5)), rec: record(),
			want: outcome{Action: ActionHeld, Reason: licensingv1alpha1.ReasonAccessReductionHeld, Reductions: []string{"seats 5 below the 12 in use"}},
		},
		"an approved reduction is written": {
			lic: lic(with(seats(5), approving(seatsTo5))), rec: record(),
			want: outcome{Action: ActionUpdate, Reason: licensingv1alpha1.ReasonWriteQueued,
				Write: &engine.Write{LicenseID: "a0N000000000001AAA", Seats: ptr[int64](5)}, Reductions: []string{"seats 5 below the 12 in use"}},
		},
		"\"true\" approves no reduction": {
			lic: lic(with(seats(5), annotated(licensingv1alpha1.AnnotationAllowAccessReduction))), rec: record(),
			want: outcome{Action: ActionHeld, Reason: licensingv1alpha1.ReasonAccessReductionHeld, Reductions: []string{"seats 5 below the 12 in use"}},
		},
		"an approval left on does not approve the next reduction": {
			lic: lic(with(seats(4), approving(seatsTo5))), rec: record(),
			want: outcome{Action: ActionHeld, Reason: licensingv1alpha1.ReasonAccessReductionHeld, Reductions: []string{"seats 4 below the 12 in use"}},
		},
		"an approval does not survive a change of the record it was given for": {
			lic: lic(with(seats(5), approving(seatsTo5))), rec: record(func(r *engine.License) { r.Seats = ptr[int64](60) }),
			want: outcome{Action: ActionHeld, Reason: licensingv1alpha1.ReasonAccessReductionHeld, Reductions: []string{"seats 5 below the 12 in use"}},
		},
		"an Active record never goes back to Trial": {
			lic: lic(func(l *licensingv1alpha1.License) { l.Spec.Status = licensingv1alpha1.LicenseStatusTrial }), rec: record(),
			want: outcome{Action: ActionImpossible, Reason: licensingv1alpha1.ReasonImpossibleTransition},
		},
		"an Uninstalled record is never written": {
			lic: lic(seats(60)), rec: record(func(r *engine.License) { r.Status = "Uninstalled" }),
			want: outcome{Action: ActionImpossible, Reason: licensingv1alpha1.ReasonUninstalled},
		},
		"an Uninstalled record and a License that manages nothing is unchanged": {
			lic: lic(nil), rec: record(func(r *engine.License) { r.Status = "Uninstalled" }),
			want: outcome{Action: ActionUnchanged, Reason: licensingv1alpha1.ReasonSynced},
		},
		"an unreadable record is never written, even when nothing seems to differ": {
			lic: lic(seats(50)), rec: record(func(r *engine.License) {
				r.Unreadable = `status "Frozen" (sfLma__Status__c) is not Trial, Active, Suspended or Uninstalled`
			}),
			want: outcome{Action: ActionBlocked, Reason: licensingv1alpha1.ReasonUnreadableRecord},
		},
		"a record the LMA does not let anyone modify is never written": {
			lic: lic(seats(60)), rec: record(notEditable),
			want: outcome{Action: ActionBlocked, Reason: licensingv1alpha1.ReasonNotEditable},
		},
		"a record the LMA does not let anyone modify and that matches is unchanged": {
			lic: lic(seats(50)), rec: record(notEditable),
			want: outcome{Action: ActionUnchanged, Reason: licensingv1alpha1.ReasonSynced},
		},
		"Observe still reports drift on a record the LMA does not let anyone modify": {
			lic: lic(with(seats(60), func(l *licensingv1alpha1.License) { l.Spec.ManagementPolicy = licensingv1alpha1.PolicyObserve })), rec: record(notEditable),
			want: outcome{Action: ActionObserve, Reason: licensingv1alpha1.ReasonDrifted},
		},
		"deleting with Suspend, approved, leaves a record the LMA does not let anyone modify": {
			lic: lic(with(deleting, annotated(licensingv1alpha1.AnnotationAllowAccessReduction))), rec: record(notEditable),
			want: outcome{Action: ActionBlocked, Reason: licensingv1alpha1.ReasonNotEditable},
		},
		"a record whose subscriber org is deleted is never written": {
			lic: lic(seats(60)), rec: record(orgDeleted),
			want: outcome{Action: ActionBlocked, Reason: licensingv1alpha1.ReasonSubscriberOrgDeleted},
		},
		"a record whose subscriber org is deleted says so even when it matches": {
			lic: lic(seats(50)), rec: record(orgDeleted),
			want: outcome{Action: ActionBlocked, Reason: licensingv1alpha1.ReasonSubscriberOrgDeleted},
		},
		"a record whose subscriber org is deleted says so under Observe too": {
			lic: lic(with(seats(60), func(l *licensingv1alpha1.License) { l.Spec.ManagementPolicy = licensingv1alpha1.PolicyObserve })), rec: record(orgDeleted),
			want: outcome{Action: ActionBlocked, Reason: licensingv1alpha1.ReasonSubscriberOrgDeleted},
		},
		"an uninstalled record whose org is deleted is terminal first": {
			lic: lic(seats(60)), rec: record(orgDeleted, func(r *engine.License) { r.Status = "Uninstalled" }),
			want: outcome{Action: ActionImpossible, Reason: licensingv1alpha1.ReasonUninstalled},
		},
		"a suspended subscriber org is reported, and the record written": {
			lic: lic(seats(60)), rec: record(func(r *engine.License) { r.OrgStatus = "SUSPENDED" }),
			want: outcome{Action: ActionUpdate, Reason: licensingv1alpha1.ReasonWriteQueued,
				Write: &engine.Write{LicenseID: "a0N000000000001AAA", Seats: ptr[int64](60)}},
		},
		"deleting with Suspend, approved, releases a record whose subscriber org is gone": {
			lic: lic(with(deleting, annotated(licensingv1alpha1.AnnotationAllowAccessReduction))), rec: record(orgDeleted),
			want: outcome{Action: ActionRelease},
		},
		"a managed status whose record type disagrees is reported, not Synced": {
			lic: lic(active), rec: record(func(r *engine.License) { r.RecordType = "Suspended" }),
			want: outcome{Action: ActionUnchanged, Reason: licensingv1alpha1.ReasonRecordTypeMismatch},
		},
		"a managed status whose record type agrees is Synced": {
			lic: lic(active), rec: record(func(r *engine.License) { r.RecordType = "Active" }),
			want: outcome{Action: ActionUnchanged, Reason: licensingv1alpha1.ReasonSynced},
		},
		"a record without a record type is Synced": {
			lic: lic(active), rec: record(),
			want: outcome{Action: ActionUnchanged, Reason: licensingv1alpha1.ReasonSynced},
		},
		"the Expired record type agrees with a license past its expiration": {
			lic: lic(active), rec: record(func(r *engine.License) { r.RecordType = "Expired"; r.Expiration = "2026-11-01" }),
			want: outcome{Action: ActionUnchanged, Reason: licensingv1alpha1.ReasonSynced},
		},
		"the Expired record type disagrees with a license that has not expired": {
			lic: lic(active), rec: record(func(r *engine.License) { r.RecordType = "Expired" }),
			want: outcome{Action: ActionUnchanged, Reason: licensingv1alpha1.ReasonRecordTypeMismatch},
		},
		"an unmanaged status says nothing of the record type": {
			lic: lic(seats(50)), rec: record(func(r *engine.License) { r.RecordType = "Suspended" }),
			want: outcome{Action: ActionUnchanged, Reason: licensingv1alpha1.ReasonSynced},
		},
		"a record another License owns is not written": {
			lic: lic(seats(60)), rec: record(), owner: "globex-imported",
			want: outcome{Action: ActionBlocked, Reason: licensingv1alpha1.ReasonDuplicateLicense},
		},
		"a parameter the package lacks blocks the License": {
			lic: lic(func(l *licensingv1alpha1.License) {
				l.Spec.FeatureParameters = []licensingv1alpha1.FeatureParameterValue{{Name: "acme__Nope", Integer: ptr[int64](1)}}
			}), rec: record(),
			want: outcome{Action: ActionBlocked, Reason: licensingv1alpha1.ReasonInvalidSpec},
		},
		"a Subscriber-to-LMO parameter cannot be set": {
			lic: lic(func(l *licensingv1alpha1.License) {
				l.Spec.FeatureParameters = []licensingv1alpha1.FeatureParameterValue{{Name: "acme__ActiveUsers", Integer: ptr[int64](1)}}
			}), rec: record(),
			want: outcome{Action: ActionBlocked, Reason: licensingv1alpha1.ReasonReadOnlyParameter},
		},
		"an expiration that is not a calendar date blocks the License": {
			lic: lic(func(l *licensingv1alpha1.License) { l.Spec.Expiration = "2027-02-30" }), rec: record(),
			want: outcome{Action: ActionBlocked, Reason: licensingv1alpha1.ReasonInvalidSpec},
		},
		"an LMO that refuses writes blocks a change, after the guards": {
			lic: lic(seats(60)), rec: record(), writesBlocked: "the LMO is a Developer Edition org",
			want: outcome{Action: ActionBlocked, Reason: licensingv1alpha1.ReasonLMONotReady},
		},
		"an LMO that refuses writes does not hide a held change": {
			lic: lic(seats(5)), rec: record(), writesBlocked: "the LMO is a Developer Edition org",
			want: outcome{Action: ActionHeld, Reason: licensingv1alpha1.ReasonAccessReductionHeld, Reductions: []string{"seats 5 below the 12 in use"}},
		},
		"deleting with deletionPolicy Orphan leaves the record": {
			lic: lic(func(l *licensingv1alpha1.License) {
				deleting(l)
				l.Spec.DeletionPolicy = licensingv1alpha1.DeletionPolicyOrphan
			}), rec: record(),
			want: outcome{Action: ActionRelease},
		},
		"deleting with Suspend is held until approved": {
			lic: lic(deleting), rec: record(),
			want: outcome{Action: ActionHeld, Reason: licensingv1alpha1.ReasonAccessReductionHeld, Reductions: []string{"status Active to Suspended"}},
		},
		"deleting with Suspend, approved with \"true\", is held": {
			lic: lic(with(deleting, annotated(licensingv1alpha1.AnnotationAllowAccessReduction))), rec: record(),
			want: outcome{Action: ActionHeld, Reason: licensingv1alpha1.ReasonAccessReductionHeld, Reductions: []string{"status Active to Suspended"}},
		},
		"deleting with Suspend, approved for an edit of the seats, is held": {
			lic: lic(with(deleting, approving(seatsTo5))), rec: record(),
			want: outcome{Action: ActionHeld, Reason: licensingv1alpha1.ReasonAccessReductionHeld, Reductions: []string{"status Active to Suspended"}},
		},
		"deleting with Suspend, approved, suspends the record": {
			lic: lic(with(deleting, approving(suspending))), rec: record(),
			want: outcome{Action: ActionUpdate, Reason: licensingv1alpha1.ReasonWriteQueued,
				Write: &engine.Write{LicenseID: "a0N000000000001AAA", Status: &suspended}, Reductions: []string{"status Active to Suspended"}},
		},
		"deleting a paused License never waits": {
			lic: lic(with(deleting, annotated(licensingv1alpha1.AnnotationPaused))), rec: record(),
			want: outcome{Action: ActionRelease},
		},
		"deleting a License that does not own its record leaves the record": {
			lic: lic(with(deleting, annotated(licensingv1alpha1.AnnotationAllowAccessReduction))), rec: record(), owner: "globex-imported",
			want: outcome{Action: ActionRelease},
		},
		"deleting with Suspend a record already Suspended lets the License go": {
			lic: lic(deleting), rec: record(func(r *engine.License) { r.Status = "Suspended" }),
			want: outcome{Action: ActionRelease},
		},
	} {
		t.Run(name, func(t *testing.T) {
			v := License(Input{License: tc.lic, Record: tc.rec, Params: params, Owner: tc.owner, WritesBlocked: tc.writesBlocked, Today: today})
			got := outcome{Action: v.Action, Reason: v.Reason, Write: v.Write, Reductions: v.Reductions}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("verdict (-want +got):\n%s\nmessage: %s", diff, v.Message)
			}
			if v.Write != nil && v.Action != ActionUpdate {
				t.Errorf("a %s verdict carries a write", v.Action)
			}
			if v.Reason != "" && v.Reason != licensingv1alpha1.ReasonSynced && v.Message == "" {
				t.Errorf("reason %s without a message", v.Reason)
			}
			if len(v.Reductions) > 0 && len(v.Approval) != 10 {
				t.Errorf("a reduction without the approval that names it: Approval %q", v.Approval)
			}
			if v.Action == ActionHeld && !strings.Contains(v.Message, `"`+v.Approval+`"`) {
				t.Errorf("held message %q does not give the approval %q", v.Message, v.Approval)
			}
		})
	}
}

func TestMessagesNameWhatTheUserMustKnow(t *testing.T) {
	v := License(Input{License: lic(seats(60)), Record: record(), Params: params, Owner: "globex-imported", Today: today})
	if !strings.Contains(v.Message, "License globex-imported") || !strings.Contains(v.Message, "a0N000000000001AAA") {
		t.Errorf("duplicate message %q does not name the owner and the record", v.Message)
	}
	unreadable := `seats 2.5 (sfLma__Seats__c) is not -1 (site license) or a whole number 0..99000000`
	v = License(Input{License: lic(seats(60)), Record: record(func(r *engine.License) { r.Unreadable = unreadable }), Params: params, Today: today})
	if !strings.Contains(v.Message, unreadable) {
		t.Errorf("unreadable message %q does not name the field and the value", v.Message)
	}
	notEditable := `its license type (sfLma__License_Type__c) is "Read-Only": licenses provisioned through AppExchange Checkout are managed by Checkout`
	v = License(Input{License: lic(seats(60)), Record: record(func(r *engine.License) { r.NotEditable = notEditable }), Params: params, Today: today})
	if !strings.Contains(v.Message, notEditable) || !strings.Contains(v.Message, "a0N000000000001AAA") {
		t.Errorf("not-editable message %q does not name the record and who manages it", v.Message)
	}
	gone := `the subscriber org 00D5g000004XyZ1AAA is gone: its org status (sfLma__Org_Status__c) is "PENDING_DELETE"`
	v = License(Input{License: lic(seats(60)), Record: record(func(r *engine.License) { r.SubscriberOrgGone = gone }), Params: params, Today: today})
	if !strings.Contains(v.Message, gone) || !strings.Contains(v.Message, "a0N000000000001AAA") || !strings.Contains(v.Message, "delete this License") {
		t.Errorf("subscriber org message %q does not name the record, the org status and what to do", v.Message)
	}
	v = License(Input{License: lic(func(l *licensingv1alpha1.License) { l.Spec.Status = licensingv1alpha1.LicenseStatusActive }),
		Record: record(func(r *engine.License) { r.RecordType = "Suspended" }), Params: params, Today: today})
	if !strings.Contains(v.Message, "Suspended") || !strings.Contains(v.Message, "RecordType") {
		t.Errorf("record type message %q does not name the record type the LMA shows", v.Message)
	}
}

// records is a decide.Records over a slice.
type records []engine.License

func (r records) Package(id string) (engine.Package, bool) {
	return engine.Package{PackageID: packageID}, sfid.Same(id, packageID)
}

func (r records) License(id string) (engine.License, bool) {
	for _, l := range r {
		if sfid.Same(l.ID, id) {
			return l, true
		}
	}
	return engine.License{}, false
}

func (r records) SubscriberLicenses(pkg, org string) []engine.License {
	var out []engine.License
	for _, l := range r {
		if sfid.Same(l.PackageID, pkg) && sfid.Same(l.SubscriberOrgID, org) {
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func TestResolve(t *testing.T) {
	const org = "00D5g000004XyZ1AAA"
	rec := func(id, status, pkg string) engine.License {
		return engine.License{ID: id, Status: status, PackageID: pkg, SubscriberOrgID: org}
	}
	bySub := licensingv1alpha1.LicenseSpec{SubscriberOrgID: org[:15], Seats: ptr(intstr.FromInt(5))}
	byID := func(id string) licensingv1alpha1.LicenseSpec { return licensingv1alpha1.LicenseSpec{LicenseID: id} }
	for name, tc := range map[string]struct {
		spec       licensingv1alpha1.LicenseSpec
		packageID  string
		recs       records
		wantRecord string
		wantReason string
	}{
		"the subscriber's one live record": {
			spec: bySub, recs: records{rec("a0N000000000001AAA", "Active", packageID)}, wantRecord: "a0N000000000001AAA"},
		"the live record, beside an Uninstalled one": {
			spec: bySub, recs: records{rec("a0N000000000001AAA", "Uninstalled", packageID), rec("a0N000000000002AAA", "Trial", packageID)},
			wantRecord: "a0N000000000002AAA"},
		"the last Uninstalled record when the customer left": {
			spec: bySub, recs: records{rec("a0N000000000001AAA", "Uninstalled", packageID), rec("a0N000000000002AAA", "Uninstalled", packageID)},
			wantRecord: "a0N000000000002AAA"},
		"two live records are ambiguous": {
			spec: bySub, recs: records{rec("a0N000000000001AAA", "Active", packageID), rec("a0N000000000002AAA", "Trial", packageID)},
			wantReason: licensingv1alpha1.ReasonAmbiguousLicense},
		"no record yet: awaiting the install": {
			spec: bySub, recs: records{rec("a0N000000000001AAA", "Active", "033000000000002AAA")}, wantReason: licensingv1alpha1.ReasonAwaitingInstall},
		"a pinned record, by its 15-character id": {
			spec: byID("a0N000000000002"), recs: records{rec("a0N000000000001AAA", "Active", packageID), rec("a0N000000000002AAA", "Trial", packageID)},
			wantRecord: "a0N000000000002AAA"},
		"a pinned record of another package is not found": {
			spec: byID("a0N000000000001AAA"), recs: records{rec("a0N000000000001AAA", "Active", "033000000000002AAA")},
			wantReason: licensingv1alpha1.ReasonLicenseNotFound},
		"a package not associated with the LMO": {
			spec: bySub, packageID: "033000000000009AAA", wantReason: licensingv1alpha1.ReasonNotAssociated},
	} {
		t.Run(name, func(t *testing.T) {
			pkg := tc.packageID
			if pkg == "" {
				pkg = packageID
			}
			res := Resolve(tc.spec, pkg, tc.recs)
			got := ""
			if res.Record != nil {
				got = res.Record.ID
			}
			if got != tc.wantRecord || res.Verdict.Reason != tc.wantReason {
				t.Errorf("resolved to %q (%s: %s), want %q (%s)", got, res.Verdict.Reason, res.Verdict.Message, tc.wantRecord, tc.wantReason)
			}
		})
	}
}

func TestOwnerIsTheOldestThenTheFirstByName(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for name, tc := range map[string]struct {
		claims []Claim
		want   string
	}{
		"nobody":               {nil, ""},
		"one":                  {[]Claim{{"globex", t0}}, "globex"},
		"the oldest":           {[]Claim{{"a-new", t0.Add(time.Second)}, {"z-old", t0}}, "z-old"},
		"same second: by name": {[]Claim{{"b", t0}, {"a", t0}, {"c", t0.Add(-time.Hour).Add(2 * time.Hour)}}, "a"},
	} {
		t.Run(name, func(t *testing.T) {
			if got := Owner(tc.claims); got != tc.want {
				t.Errorf("Owner = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	trial30 := licensingv1alpha1.PackageDefaults{Status: licensingv1alpha1.LicenseStatusTrial, TrialDays: ptr[int32](30), Seats: intstr.FromInt(10)}
	// fresh is an untouched install of 2026-11-20 with the defaults but 5 seats.
	fresh := func(mutate ...func(*engine.License)) engine.License {
		r := engine.License{ID: "a0N000000000101AAA", PackageID: packageID, Status: "Trial", Seats: ptr[int64](5), Expiration: "2026-12-20", InstallDate: "2026-11-20"}
		for _, m := range mutate {
			m(&r)
		}
		return r
	}
	for name, tc := range map[string]struct {
		policy    licensingv1alpha1.Policy
		rec       engine.License
		claimedBy string
		want      outcome
	}{
		"an untouched install gets the seats it lacks": {
			rec: fresh(), want: outcome{Action: ActionUpdate, Reason: licensingv1alpha1.ReasonDefaultsMismatch,
				Write: &engine.Write{LicenseID: "a0N000000000101AAA", Seats: ptr[int64](10)}}},
		"an install that got the defaults is unchanged": {
			rec: fresh(func(r *engine.License) { r.Seats = ptr[int64](10) }), want: outcome{Action: ActionUnchanged, Reason: licensingv1alpha1.ReasonDefaultsMatch}},
		"an install before the defaults took effect is left alone": {
			rec: fresh(func(r *engine.License) { r.InstallDate = "2026-10-31" }), want: outcome{Action: ActionUnchanged}},
		"a sandbox install is exempt from seat defaults": {
			rec: fresh(func(r *engine.License) { r.IsSandbox = true; r.Seats = ptr[int64](-1) }), want: outcome{Action: ActionUnchanged, Reason: licensingv1alpha1.ReasonDefaultsMatch}},
		"Observe reports and writes nothing": {
			policy: licensingv1alpha1.PolicyObserve, rec: fresh(), want: outcome{Action: ActionObserve, Reason: licensingv1alpha1.ReasonDefaultsMismatch}},
		"a License that names the record wins": {
			rec: fresh(), claimedBy: "globex", want: outcome{Action: ActionObserve, Reason: licensingv1alpha1.ReasonDefaultsMismatch}},
		"an install changed in the LMO since is never set again": {
			rec: fresh(func(r *engine.License) { r.TermsChanged = true }), want: outcome{Action: ActionObserve, Reason: licensingv1alpha1.ReasonDefaultsMismatch}},
		"an Active install never goes back to Trial": {
			rec:  fresh(func(r *engine.License) { r.Status = "Active"; r.Seats = ptr[int64](10); r.Expiration = engine.Never }),
			want: outcome{Action: ActionImpossible, Reason: licensingv1alpha1.ReasonImpossibleTransition}},
		"an expiration already past is held": {
			rec: fresh(func(r *engine.License) {
				r.InstallDate = "2026-11-01"
				r.Seats = ptr[int64](10)
				r.Expiration = "2026-12-31"
			}),
			want: outcome{Action: ActionHeld, Reason: licensingv1alpha1.ReasonAccessReductionHeld, Reductions: []string{"expiration 2026-12-01 is already past"}}},
		"seats below those in use are held": {
			rec:  fresh(func(r *engine.License) { r.Seats = ptr[int64](20); r.UsedLicenses = ptr[int64](15) }),
			want: outcome{Action: ActionHeld, Reason: licensingv1alpha1.ReasonAccessReductionHeld, Reductions: []string{"seats 10 below the 15 in use"}}},
		"an unreadable record is never written": {
			rec: fresh(func(r *engine.License) { r.Unreadable = `status "Frozen"` }), want: outcome{Action: ActionBlocked, Reason: licensingv1alpha1.ReasonUnreadableRecord}},
		"an install whose subscriber org is gone is never set": {
			rec:  fresh(func(r *engine.License) { r.SubscriberOrgGone = "the subscriber org is gone" }),
			want: outcome{Action: ActionUnchanged}},
		"an install the LMA does not let anyone modify is never set": {
			rec:  fresh(func(r *engine.License) { r.NotEditable = `its license type (sfLma__License_Type__c) is "Read-Only"` }),
			want: outcome{Action: ActionBlocked, Reason: licensingv1alpha1.ReasonNotEditable}},
	} {
		t.Run(name, func(t *testing.T) {
			policy := tc.policy
			if policy == "" {
				policy = licensingv1alpha1.PolicyEnforce
			}
			now := today
			if strings.Contains(name, "already past") {
				now = time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
			}
			v := Defaults(DefaultsInput{Defaults: trial30, Policy: policy, Record: tc.rec, From: from, ClaimedBy: tc.claimedBy, Today: now})
			got := outcome{Action: v.Action, Reason: v.Reason, Write: v.Write, Reductions: v.Reductions}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("verdict (-want +got):\n%s\nmessage: %s", diff, v.Message)
			}
		})
	}
}

func TestDefaultsFromNeverPrecedesCreationUnlessApproved(t *testing.T) {
	created := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	at := func(s string) *metav1.Time {
		t, _ := time.Parse(time.DateOnly, s)
		mt := metav1.NewTime(t)
		return &mt
	}
	for name, tc := range map[string]struct {
		from     *metav1.Time
		approved bool
		want     string
		noted    bool
	}{
		"left out: the creation":              {nil, false, "2026-11-01", false},
		"after the creation: as given":        {at("2026-12-01"), false, "2026-12-01", false},
		"the creation day: as given":          {at("2026-11-01"), false, "2026-11-01", false},
		"before the creation: the creation":   {at("2026-10-01"), false, "2026-11-01", true},
		"before the creation, approved: kept": {at("2026-10-01"), true, "2026-10-01", false},
	} {
		t.Run(name, func(t *testing.T) {
			pkg := &licensingv1alpha1.ManagedPackage{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(created)}}
			pkg.Spec.DefaultsEffectiveFrom = tc.from
			if tc.approved {
				pkg.Annotations = map[string]string{licensingv1alpha1.AnnotationAllowDefaultsBeforeCreation: "true"}
			}
			from, note := DefaultsFrom(pkg)
			if got := from.UTC().Format(time.DateOnly); got != tc.want || (note != "") != tc.noted {
				t.Errorf("DefaultsFrom = %s, note %q; want %s, noted %v", got, note, tc.want, tc.noted)
			}
		})
	}
}
