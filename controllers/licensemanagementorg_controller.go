package controllers

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/internal/engine"
	"github.com/lmo-operator/lmo-operator/internal/metrics"
)

// secretRecheck is how often a LicenseManagementOrg re-reads its Secret, so rotated credentials take
// effect without a spec change (the operator does not watch Secrets).
const secretRecheck = 3 * time.Minute

// SecretProblemRecheck is how soon a LicenseManagementOrg whose Secret is missing or broken looks
// again: the fix is usually a kubectl apply away.
const SecretProblemRecheck = 15 * time.Second

// LicenseManagementOrgReconciler reconciles LicenseManagementOrgs: it reads each LMO's credentials,
// runs its engine, and reports the connection, the org, the API budget and the mirror in status.
type LicenseManagementOrgReconciler struct {
	*deps
	// told is the Secret problem last logged for each LicenseManagementOrg ("namespace/name"), so a
	// broken Secret is logged once per problem rather than at every recheck.
	told sync.Map
}

// +kubebuilder:rbac:groups=licensing.lmo-operator.dev,resources=licensemanagementorgs,verbs=get;list;watch
// +kubebuilder:rbac:groups=licensing.lmo-operator.dev,resources=licensemanagementorgs/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// Reconcile brings one LicenseManagementOrg's engine in line with its spec and Secret.
func (r *LicenseManagementOrgReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var lmo licensingv1alpha1.LicenseManagementOrg
	if err := r.Get(ctx, req.NamespacedName, &lmo); err != nil {
		if apierrors.IsNotFound(err) {
			r.registry.Stop(req.String())
			metrics.ForgetLMO(req.String())
			r.told.Delete(req.String())
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !lmo.DeletionTimestamp.IsZero() {
		r.registry.Stop(req.String())
		return ctrl.Result{}, nil
	}
	before := lmo.DeepCopy()

	// Credentials go only to Salesforce: a LicenseManagementOrg naming another host gets no engine
	// (and so no Secret read), whoever may edit it.
	if field, err := r.checkHosts(&lmo); err != nil {
		r.registry.Stop(req.String())
		metrics.SetDown(req.String())
		markStalled(&lmo, licensingv1alpha1.ReasonHostNotAllowed, field+": "+err.Error())
		return writeStatus(ctx, r.Client, &lmo, before, ctrl.Result{})
	}
	creds, reason, err := r.credentials(ctx, &lmo)
	if err != nil {
		r.registry.Stop(req.String())
		// No engine runs: lmo_up says so (a missing series would keep LMOUnreachable silent).
		metrics.SetDown(req.String())
		setSecretProblem(&lmo, reason, err.Error())
		return writeStatus(ctx, r.Client, &lmo, before, ctrl.Result{RequeueAfter: SecretProblemRecheck})
	}
	cfg := engine.Config{
		InstanceURL: lmo.Spec.InstanceURL, LoginURL: lmo.Spec.LoginURL, APIVersion: lmo.Spec.APIVersion,
		Credentials: creds, PollInterval: durationOr(lmo.Spec.PollInterval, time.Minute),
		ResyncInterval: durationOr(lmo.Spec.ResyncInterval, 6*time.Hour), ReservePercent: 20, ExtraHosts: r.opts.AllowedHosts,
		AllowNonProduction: lmo.Spec.AllowNonProductionOrg,
		HTTPClient:         r.opts.HTTPClient, Log: logf.FromContext(ctx).WithName("engine"), Now: r.opts.Now,
	}
	if lmo.Spec.APIBudget != nil {
		cfg.ReservePercent = int(lmo.Spec.APIBudget.ReservePercent)
	}
	key := req.String()
	cfg.OnCall = func(ci engine.CallInfo) { metrics.RecordCall(key, ci) }
	cfg.OnSync = func(kind string, took time.Duration) { metrics.RecordSync(key, kind, took.Seconds()) }
	r.router.callbacks(req.NamespacedName, &cfg)
	// The writer decides again, when it sends, with the current spec: what was queued before a
	// pause, an Observe switch, a revert or a deletion is never sent.
	cfg.Recheck = func(eng engine.LMO, licenseID string) (engine.Write, bool) {
		return r.recheck(context.Background(), req.NamespacedName, eng, licenseID)
	}
	eng, started := r.registry.Ensure(key, cfg)
	if started {
		logf.FromContext(ctx).Info("Started the LMO engine", "instanceURL", lmo.Spec.InstanceURL)
	}
	st := eng.Status()
	setEngineStatus(&lmo, st)
	r.recordMetrics(ctx, key, &lmo, eng, st)
	return writeStatus(ctx, r.Client, &lmo, before, ctrl.Result{RequeueAfter: secretRecheck})
}

// checkHosts refuses an instanceURL or loginURL outside Salesforce, loopback and the hosts the
// cluster admin allowed, and plain http unless the manager allows it for loopback; it names the
// field.
func (r *LicenseManagementOrgReconciler) checkHosts(lmo *licensingv1alpha1.LicenseManagementOrg) (string, error) {
	for _, f := range []struct{ name, value string }{{"spec.instanceURL", lmo.Spec.InstanceURL}, {"spec.loginURL", lmo.Spec.LoginURL}} {
		if f.value == "" {
			continue
		}
		if err := engine.CheckEndpoint(f.value, r.opts.AllowedHosts, r.opts.AllowInsecureLoopbackHTTP); err != nil {
			return f.name, err
		}
	}
	return "", nil
}

// credentials reads the LMO's Secret with an uncached get and checks its keys. Status is readable
// by people who may not read the Secret, so a broken Secret gets one message per auth flow,
// whichever key is absent or malformed; the log, read by the cluster admin, names the key. Neither
// ever shows a value.
func (r *LicenseManagementOrgReconciler) credentials(ctx context.Context, lmo *licensingv1alpha1.LicenseManagementOrg) (engine.Credentials, string, error) {
	name := secretName(lmo)
	told := lmo.Namespace + "/" + lmo.Name
	var secret corev1.Secret
	// client-go logs response bodies at high verbosity through the context's logger: the Secret's
	// values must never reach a log, whatever the level.
	quiet := logr.NewContext(ctx, logr.Discard())
	if err := r.apiReader.Get(quiet, types.NamespacedName{Namespace: lmo.Namespace, Name: name}, &secret); err != nil {
		if apierrors.IsNotFound(err) {
			// A Secret made again is logged afresh.
			r.told.Delete(told)
			return engine.Credentials{}, licensingv1alpha1.ReasonSecretNotFound, fmt.Errorf("Secret %s/%s does not exist", lmo.Namespace, name) //nolint:staticcheck // ST1005: it starts with the kind's name and becomes the Ready condition's message
		}
		return engine.Credentials{}, licensingv1alpha1.ReasonSecretNotFound, fmt.Errorf("reading Secret %s/%s: %w", lmo.Namespace, name, err)
	}
	invalid := func(flow, keys, problem string) error {
		if prev, seen := r.told.Swap(told, problem); !seen || prev != problem {
			logf.FromContext(ctx).Info("The LicenseManagementOrg's Secret cannot be used", "secret", klog.KObj(&secret), "problem", problem)
		}
		return fmt.Errorf("Secret %s/%s is missing or invalid: %s needs the keys %s", lmo.Namespace, name, flow, keys) //nolint:staticcheck // ST1005: as above
	}
	missing := func(keys ...string) string {
		for _, k := range keys {
			if len(secret.Data[k]) == 0 {
				return fmt.Sprintf("key %q is missing or empty", k)
			}
		}
		return ""
	}
	if lmo.Spec.Auth.JWTBearer != nil {
		const keys = "client-id, username and private-key (an RSA private key in PEM)"
		if problem := missing("client-id", "username", "private-key"); problem != "" {
			return engine.Credentials{}, licensingv1alpha1.ReasonSecretInvalid, invalid("jwtBearer", keys, problem)
		}
		key := secret.Data["private-key"]
		if err := checkPrivateKey(key); err != nil {
			return engine.Credentials{}, licensingv1alpha1.ReasonSecretInvalid, invalid("jwtBearer", keys, "key \"private-key\" "+err.Error())
		}
		r.told.Delete(told)
		return engine.Credentials{JWTBearer: &engine.JWTBearer{ClientID: string(secret.Data["client-id"]), Username: string(secret.Data["username"]),
			PrivateKeyPEM: key, Audience: lmo.Spec.Auth.JWTBearer.Audience}}, "", nil
	}
	if problem := missing("client-id", "client-secret"); problem != "" {
		return engine.Credentials{}, licensingv1alpha1.ReasonSecretInvalid, invalid("clientCredentials", "client-id and client-secret", problem)
	}
	r.told.Delete(told)
	return engine.Credentials{ClientCredentials: &engine.ClientCredentials{ClientID: string(secret.Data["client-id"]),
		ClientSecret: string(secret.Data["client-secret"])}}, "", nil
}

// SetupWithManager registers the controller with the manager.
func (r *LicenseManagementOrgReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&licensingv1alpha1.LicenseManagementOrg{}).
		WatchesRawSource(r.router.source(queueLMO)).
		WithOptions(controller.Options{MaxConcurrentReconciles: 2}).
		Named(queueLMO).
		Complete(r)
}

// durationOr is d, or def when d is unset (the API server defaults it; a client may not).
func durationOr(d *metav1.Duration, def time.Duration) time.Duration {
	if d == nil || d.Duration <= 0 {
		return def
	}
	return d.Duration
}

// recordMetrics refreshes the gauges of the LMO and the drifted Licenses of its namespace.
func (r *LicenseManagementOrgReconciler) recordMetrics(ctx context.Context, key string, lmo *licensingv1alpha1.LicenseManagementOrg,
	eng engine.LMO, st engine.Status) {
	sum := eng.Summary(r.now().UTC().Format(time.DateOnly))
	reserve := 0.2
	if lmo.Spec.APIBudget != nil {
		reserve = float64(lmo.Spec.APIBudget.ReservePercent) / 100
	}
	metrics.SetLMO(key, metrics.LMOState{Up: st.Connected && st.Loaded, ReserveRatio: reserve, Licenses: sum.ByStatus, TrialsExpiring: sum.TrialsExpiring})
	var list licensingv1alpha1.LicenseList
	if err := r.List(ctx, &list, client.InNamespace(lmo.Namespace), client.MatchingFields{indexLicenseDrifted: "true"},
		client.UnsafeDisableDeepCopy); err != nil {
		return
	}
	metrics.SetDrifted(lmo.Namespace, len(list.Items))
}
