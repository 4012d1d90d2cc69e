package controllers

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/decide"
	"github.com/lmo-operator/lmo-operator/internal/engine"
	"github.com/lmo-operator/lmo-operator/internal/metrics"
)

// router turns what an engine reports (records changed, status changed, writes done) into reconcile
// requests for the resources that refer to those records, and Events on them. It is the channel
// source of the three controllers.
type router struct {
	cache    client.Reader
	recorder record.EventRecorder

	mu     sync.Mutex
	queues map[string]workqueue.TypedRateLimitingInterface[reconcile.Request]
}

// The controllers whose queues the router feeds.
const (
	queueLicense = "license"
	queuePackage = "managedpackage"
	queueLMO     = "licensemanagementorg"
)

func newRouter(cache client.Reader, recorder record.EventRecorder) *router {
	return &router{cache: cache, recorder: recorder, queues: map[string]workqueue.TypedRateLimitingInterface[reconcile.Request]{}}
}

// source returns the source that hands the router the queue of the named controller.
func (r *router) source(name string) source.Source {
	return source.Func(func(_ context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.queues[name] = q
		return nil
	})
}

func (r *router) add(name string, req reconcile.Request) {
	r.mu.Lock()
	q := r.queues[name]
	r.mu.Unlock()
	if q != nil {
		q.Add(req)
	}
}

// callbacks sets the engine callbacks of one LicenseManagementOrg. Each gets the engine that calls
// it: none looks an engine up in the registry, which may be waiting for that very engine to stop.
func (r *router) callbacks(lmo types.NamespacedName, cfg *engine.Config) {
	cfg.OnChange = func(eng engine.LMO, ids []string) { r.licensesChanged(lmo, eng, ids) }
	var wasLoaded atomic.Bool
	cfg.OnStatus = func(eng engine.LMO) {
		r.add(queueLMO, reconcile.Request{NamespacedName: lmo})
		if loaded := eng.Status().Loaded; wasLoaded.Swap(loaded) != loaded {
			r.everything(lmo)
		}
	}
	cfg.OnWrite = func(eng engine.LMO, results []engine.WriteResult) {
		failed := 0
		for _, res := range results {
			if res.Err != nil {
				failed++
			}
		}
		metrics.RecordWrites(lmo.String(), len(results)-failed, failed)
		r.written(lmo, eng, results)
	}
}

// licensesChanged enqueues the Licenses that name the changed records, and the packages of the LMO.
func (r *router) licensesChanged(lmo types.NamespacedName, eng engine.LMO, ids []string) {
	ctx := context.Background()
	for _, id := range ids {
		for _, req := range r.licensesFor(ctx, lmo.Namespace, eng, id) {
			r.add(queueLicense, req)
		}
	}
	r.packagesOf(ctx, lmo)
}

// licensesFor finds the Licenses in namespace that pin the record or name its subscriber.
func (r *router) licensesFor(ctx context.Context, namespace string, eng engine.LMO, id string) []reconcile.Request {
	keys := []string{licenseKey(id)}
	if l, ok := eng.License(id); ok {
		keys = append(keys, subscriberKey(l.SubscriberOrgID))
	}
	seen := map[types.NamespacedName]bool{}
	var out []reconcile.Request
	for _, key := range keys {
		items, err := licensesWithKey(ctx, r.cache, namespace, key, true)
		if err != nil {
			continue
		}
		for i := range items {
			n := client.ObjectKeyFromObject(&items[i])
			if !seen[n] {
				seen[n] = true
				out = append(out, reconcile.Request{NamespacedName: n})
			}
		}
	}
	return out
}

func (r *router) packagesOf(ctx context.Context, lmo types.NamespacedName) {
	var pkgs licensingv1alpha1.ManagedPackageList
	if err := r.cache.List(ctx, &pkgs, client.InNamespace(lmo.Namespace), client.MatchingFields{indexPackageLMO: lmo.Name},
		client.UnsafeDisableDeepCopy); err != nil {
		return
	}
	for i := range pkgs.Items {
		r.add(queuePackage, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&pkgs.Items[i])})
	}
}

// everything enqueues every package and License of the LMO: its mirror was (re)loaded or lost.
func (r *router) everything(lmo types.NamespacedName) {
	ctx := context.Background()
	var pkgs licensingv1alpha1.ManagedPackageList
	if err := r.cache.List(ctx, &pkgs, client.InNamespace(lmo.Namespace), client.MatchingFields{indexPackageLMO: lmo.Name},
		client.UnsafeDisableDeepCopy); err != nil {
		return
	}
	names := make(map[string]bool, len(pkgs.Items))
	for i := range pkgs.Items {
		r.add(queuePackage, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&pkgs.Items[i])})
		names[pkgs.Items[i].Name] = true
	}
	if len(names) == 0 {
		return
	}
	// The namespace's Licenses, filtered here: an index by package would keep every License twice
	// more in the cache's index sets (most namespaces hold one package's fleet) for a lookup made
	// only when a mirror is (re)loaded.
	var lics licensingv1alpha1.LicenseList
	if err := r.cache.List(ctx, &lics, client.InNamespace(lmo.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		return
	}
	for j := range lics.Items {
		if names[lics.Items[j].Spec.PackageRef.Name] {
			r.add(queueLicense, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&lics.Items[j])})
		}
	}
}

// massWrite is how many Licenses one write answer may write plainly before their LicenseWritten
// Events give way to one Event on the LicenseManagementOrg. A cold start or a mass change of a
// large fleet writes thousands; an Event each is an object the API server creates and stores
// (about 12,000 in a 50,000-License cold start, which took 302 s with them and 296 s without, see
// BENCHMARKS.md), and client-go's broadcaster dropped some of them at random anyway.
const massWrite = 100

// written logs every record written or refused, and records an Event on each License it belongs to,
// naming the fields with their old and new values. The log line is the durable trail. A refusal
// (Warning) and a correction of a person's edit always get their Event; when one answer plainly
// wrote more than massWrite Licenses, their LicenseWritten Events are one Event on the
// LicenseManagementOrg instead, which points to the log.
func (r *router) written(lmo types.NamespacedName, eng engine.LMO, results []engine.WriteResult) {
	ctx := context.Background()
	log := ctrl.Log.WithName("writes").WithValues("licenseManagementOrg", lmo.String())
	var plain []func()
	for _, res := range results {
		reqs := r.licensesFor(ctx, lmo.Namespace, eng, res.LicenseID)
		names := make([]string, len(reqs))
		for i, req := range reqs {
			names[i] = req.Name
		}
		if res.Err != nil {
			log.Info("The LMO refused a write", "licenseRecord", res.LicenseID, "licenses", names,
				"changes", describeChanges(res.Changes), "error", res.Err.Error())
		} else {
			log.Info("Wrote a license record", "licenseRecord", res.LicenseID, "licenses", names, "changes", describeChanges(res.Changes))
		}
		for _, req := range reqs {
			lic := &licensingv1alpha1.License{}
			if err := r.cache.Get(ctx, req.NamespacedName, lic); err != nil {
				continue
			}
			if res.Err != nil {
				r.recorder.Eventf(lic, corev1.EventTypeWarning, licensingv1alpha1.ReasonWriteFailed,
					"The LMO refused the write of %s to license %s: %s", describeChanges(res.Changes), res.LicenseID, res.Err.Error())
			} else if fixed := decide.Corrections(res.Changes, lastSync(lic)); len(fixed) > 0 {
				r.recorder.Eventf(lic, corev1.EventTypeNormal, licensingv1alpha1.ReasonDriftCorrected, "%s",
					describeCorrection(res, fixed))
			} else {
				msg := "Wrote " + describeChanges(res.Changes) + " to license " + res.LicenseID
				plain = append(plain, func() { r.recorder.Event(lic, corev1.EventTypeNormal, licensingv1alpha1.ReasonLicenseWritten, msg) })
			}
			r.add(queueLicense, req)
		}
	}
	if len(plain) <= massWrite {
		for _, give := range plain {
			give()
		}
		return
	}
	org := &licensingv1alpha1.LicenseManagementOrg{}
	if err := r.cache.Get(ctx, lmo, org); err != nil {
		return
	}
	r.recorder.Eventf(org, corev1.EventTypeNormal, licensingv1alpha1.ReasonLicenseWritten,
		"Wrote %d Licenses' records in one call; too many for an Event each: the manager's log has a line for each record (\"Wrote a license record\")", len(plain))
}

// lastSync is when the License last matched its spec (status.lastSyncTime), or zero.
func lastSync(lic *licensingv1alpha1.License) time.Time {
	if lic.Status.LastSyncTime == nil {
		return time.Time{}
	}
	return lic.Status.LastSyncTime.Time
}

// describeCorrection says what a write that put back a person's edit put back, over what, and
// whose edit it undid; the write's other fields follow as an ordinary write.
func describeCorrection(res engine.WriteResult, fixed []engine.FieldWrite) string {
	parts := make([]string, 0, len(res.Changes))
	corrected := map[string]bool{}
	for _, c := range fixed {
		corrected[c.Field] = true
		parts = append(parts, fmt.Sprintf("%s %s on license %s over %s, which %s set at %s", c.Field, orNone(c.New), res.LicenseID,
			orNone(c.Old), personOf(c.Replaces), c.Replaces.At.UTC().Format(time.RFC3339)))
	}
	msg := "Put back " + strings.Join(parts, "; ")
	var rest []engine.FieldWrite
	for _, c := range res.Changes {
		if !corrected[c.Field] {
			rest = append(rest, c)
		}
	}
	if len(rest) > 0 {
		msg += "; also wrote " + describeChanges(rest)
	}
	return msg
}

// personOf names an LMO user by name and username: names collide, usernames do not.
func personOf(c engine.FieldChange) string {
	if c.Username == "" {
		return c.By
	}
	return c.By + " (" + c.Username + ")"
}

func describeChanges(changes []engine.FieldWrite) string {
	parts := make([]string, len(changes))
	for i, c := range changes {
		parts[i] = fmt.Sprintf("%s %s → %s", c.Field, orNone(c.Old), orNone(c.New))
	}
	return strings.Join(parts, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "(empty)"
	}
	return s
}
