// Package controllers holds the reconcilers of the LicenseManagementOrg, ManagedPackage and License
// kinds. They never call Salesforce: they read each LMO's engine (internal/engine) and queue writes
// through it.
package controllers

import (
	"context"
	"net/http"
	"time"

	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/lmo-operator/lmo-operator/internal/engine"
)

// Options tune the controllers; the zero value is what the manager runs with.
type Options struct {
	// HTTPClient is the transport to Salesforce; nil uses the client's default.
	HTTPClient *http.Client
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// MaxConcurrentLicenseReconciles bounds the License controller's workers; 0 means 4.
	MaxConcurrentLicenseReconciles int
	// AllowedHosts are hosts besides Salesforce's own and loopback that a LicenseManagementOrg may
	// name in instanceURL and loginURL (the manager's --allowed-lmo-host, set by the cluster admin).
	AllowedHosts []string
	// AllowInsecureLoopbackHTTP lets a LicenseManagementOrg name a plain-http loopback instanceURL or
	// loginURL (lmosim in development; the manager's --allow-insecure-loopback-http). Off, every
	// LMO is reached over https.
	AllowInsecureLoopbackHTTP bool
}

// deps are what the three reconcilers share.
type deps struct {
	client.Client
	// apiReader reads Secrets straight from the API server: the operator never lists, watches or
	// caches Secrets.
	apiReader client.Reader
	registry  *engine.Registry
	// engines looks up the engine of an LMO ("namespace/name"); the registry in the manager, a fake
	// in unit tests of the License and ManagedPackage reconcilers.
	engines interface {
		Get(key string) (engine.LMO, bool)
	}
	recorder record.EventRecorder
	router   *router
	opts     Options
	// firstHolds are the new Licenses whose first status write waits for their queued write.
	firstHolds *firstHolds
}

func (d *deps) now() time.Time {
	if d.opts.Now != nil {
		return d.opts.Now()
	}
	return time.Now()
}

// SetupWithManager registers every controller of the operator with the manager. Engines stop when
// ctx ends.
func SetupWithManager(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	if err := indexFields(ctx, mgr); err != nil {
		return err
	}
	registry := engine.NewRegistry(ctx)
	d := &deps{
		Client:     mgr.GetClient(),
		apiReader:  mgr.GetAPIReader(),
		registry:   registry,
		engines:    registry,
		recorder:   mgr.GetEventRecorderFor("lmo-operator"), //nolint:staticcheck // core/v1 Events, which kubectl describe shows
		opts:       opts,
		firstHolds: newFirstHolds(),
	}
	d.router = newRouter(mgr.GetClient(), d.recorder)
	if err := (&LicenseManagementOrgReconciler{deps: d}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&ManagedPackageReconciler{deps: d}).SetupWithManager(mgr); err != nil {
		return err
	}
	return (&LicenseReconciler{deps: d}).SetupWithManager(mgr)
}

// forTurn is a copy of the License reconciler for one reconcile: its Events go to t's queue, and
// it notes in t what the status write needs to know.
func (r *LicenseReconciler) forTurn(t *turn) *LicenseReconciler {
	d := *r.deps
	d.recorder = &t.events
	return &LicenseReconciler{deps: &d, turn: t}
}
