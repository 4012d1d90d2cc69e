package controllers

import (
	"sort"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/engine"
	"github.com/lmo-operator/lmo-operator/internal/salesforce/sfid"
)

// fakeLMO is an engine.LMO over fixed records that remembers what was submitted. Unit tests of the
// reconcilers use it in place of a running engine.
type fakeLMO struct {
	mu        sync.Mutex
	status    engine.Status
	packages  []engine.Package
	params    []engine.FeatureParameter
	licenses  []engine.License
	submitted []engine.Write
	// written are write states by license id, as the engine keeps them after a write.
	written map[string]engine.WriteState
}

var _ engine.LMO = (*fakeLMO)(nil)

func newFakeLMO(packages []engine.Package, params []engine.FeatureParameter, licenses ...engine.License) *fakeLMO {
	return &fakeLMO{status: engine.Status{Loaded: true, Connected: true}, packages: packages, params: params, licenses: licenses}
}

func (f *fakeLMO) Status() engine.Status { return f.status }

func (f *fakeLMO) Package(packageID string) (engine.Package, bool) {
	for _, p := range f.packages {
		if sfid.Same(p.PackageID, packageID) {
			return p, true
		}
	}
	return engine.Package{}, false
}

func (f *fakeLMO) FeatureParameters(packageID string) map[string]engine.FeatureParameter {
	out := map[string]engine.FeatureParameter{}
	for _, p := range f.params {
		if sfid.Same(p.PackageID, packageID) {
			out[p.FullName] = p
		}
	}
	return out
}

func (f *fakeLMO) License(id string) (engine.License, bool) {
	for _, l := range f.licenses {
		if sfid.Same(l.ID, id) {
			return l, true
		}
	}
	return engine.License{}, false
}

func (f *fakeLMO) SubscriberLicenses(packageID, subscriberOrgID string) []engine.License {
	var out []engine.License
	for _, l := range f.licenses {
		if sfid.Same(l.PackageID, packageID) && sfid.Same(l.SubscriberOrgID, subscriberOrgID) {
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (f *fakeLMO) PackageLicenses(packageID string) []*engine.License {
	var out []*engine.License
	for _, l := range f.licenses {
		if sfid.Same(l.PackageID, packageID) {
			out = append(out, &l)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (f *fakeLMO) Submit(w engine.Write) (engine.WriteState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.submitted = append(f.submitted, w)
	return engine.WriteState{Pending: true}, nil
}

func (f *fakeLMO) WriteState(licenseID string) engine.WriteState {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st, ok := f.written[sfid.Key15(licenseID)]; ok {
		return st
	}
	for _, w := range f.submitted {
		if sfid.Same(w.LicenseID, licenseID) {
			return engine.WriteState{Pending: true}
		}
	}
	return engine.WriteState{}
}

func (f *fakeLMO) Summary(string) engine.Summary { return engine.Summary{} }

func (f *fakeLMO) BeginReconcile() func() { return func() {} }

// writes returns what was submitted so far.
func (f *fakeLMO) writes() []engine.Write {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]engine.Write(nil), f.submitted...)
}

// newFakeClient is a client over objs with the operator's cache indexes, as the manager's cache
// has them.
func newFakeClient(t *testing.T, objs ...client.Object) client.Client {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := licensingv1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).
		WithIndex(&licensingv1alpha1.License{}, indexLicenseRecord, licenseRecordBuckets).
		WithIndex(&licensingv1alpha1.License{}, indexLicenseDrifted, licenseDriftedKeys).
		WithIndex(&licensingv1alpha1.ManagedPackage{}, indexPackageLMO, packageLMOKeys).
		WithStatusSubresource(&licensingv1alpha1.License{}, &licensingv1alpha1.ManagedPackage{}).
		Build()
}

// newTestDeps are reconciler dependencies over a fake client, with a fixed clock.
func newTestDeps(c client.Client, now time.Time) *deps {
	return &deps{Client: c, recorder: record.NewFakeRecorder(100), opts: Options{Now: func() time.Time { return now }}, firstHolds: newFirstHolds()}
}

// Fixtures shared by the unit tests of this package.
const (
	testNS        = "licensing"
	testLMO       = "acme"
	testPackage   = "acme-projects"
	testPackageID = "033000000000001AAA"
)

func testPackages() []engine.Package {
	return []engine.Package{{RecordID: "a0P000000000001AAA", PackageID: testPackageID, Name: "Acme Projects", LatestVersion: "1.4.0"}}
}

func testParams() []engine.FeatureParameter {
	return []engine.FeatureParameter{
		{RecordID: "a0F000000000001AAA", PackageID: testPackageID, FullName: "acme__MaxProjects", DataType: "Integer", Direction: "LMO to Subscriber"},
		{RecordID: "a0F000000000002AAA", PackageID: testPackageID, FullName: "acme__ActiveUsers", DataType: "Integer", Direction: "Subscriber to LMO"},
	}
}

func managedPackage(mutate ...func(*licensingv1alpha1.ManagedPackage)) *licensingv1alpha1.ManagedPackage {
	p := &licensingv1alpha1.ManagedPackage{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: testPackage, Generation: 1,
			CreationTimestamp: metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))},
		Spec: licensingv1alpha1.ManagedPackageSpec{LMORef: licensingv1alpha1.LocalObjectReference{Name: testLMO}, PackageID: testPackageID},
	}
	for _, m := range mutate {
		m(p)
	}
	return p
}

func license(name string, created time.Time, mutate func(*licensingv1alpha1.License)) *licensingv1alpha1.License {
	l := &licensingv1alpha1.License{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: name, Generation: 1, CreationTimestamp: metav1.NewTime(created)},
		Spec: licensingv1alpha1.LicenseSpec{PackageRef: licensingv1alpha1.LocalObjectReference{Name: testPackage},
			ManagementPolicy: licensingv1alpha1.PolicyEnforce, DeletionPolicy: licensingv1alpha1.DeletionPolicyOrphan},
	}
	mutate(l)
	return l
}

func ptrTo[T any](v T) *T { return &v }

func conditionOf(conds []metav1.Condition, typ string) (reason, message string) {
	for _, c := range conds {
		if c.Type == typ {
			return c.Reason, c.Message
		}
	}
	return "", ""
}
