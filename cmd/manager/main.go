// Command manager runs the lmo-operator controllers: it drives Salesforce LMA license records toward the
// License, ManagedPackage and LicenseManagementOrg resources of the cluster.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
	"github.com/lmo-operator/lmo-operator/controllers"
)

func main() {
	var (
		s                settings
		kubeQPS          float64
		allowedHosts     string
		memoryLimitRatio float64
		gcPercentFlag    int
	)
	flag.StringVar(&s.metricsAddr, "metrics-bind-address", ":8443", "Address the metrics endpoint binds to; \"0\" disables it.")
	flag.BoolVar(&s.secureMetrics, "metrics-secure", true, "Serve metrics over https with authentication and authorization by the API server.")
	flag.StringVar(&s.metricsCertPath, "metrics-cert-path", "", "Directory of the certificate and key the https metrics endpoint serves (for example a mounted "+
		"cert-manager Secret), reloaded when they change; empty generates a self-signed certificate at start, which scrapers cannot verify.")
	flag.StringVar(&s.metricsCertName, "metrics-cert-name", "tls.crt", "File name of the metrics certificate in --metrics-cert-path.")
	flag.StringVar(&s.metricsCertKey, "metrics-cert-key", "tls.key", "File name of the metrics private key in --metrics-cert-path.")
	flag.StringVar(&s.probeAddr, "health-probe-bind-address", ":8081", "Address the health and readiness probes bind to.")
	flag.BoolVar(&s.leaderElect, "leader-elect", false, "Elect a leader so that only one manager writes to the LMOs.")
	flag.StringVar(&s.leaderElectionID, "leader-election-id", "lmo-operator.lmo-operator.dev", "Name of the Lease used for leader election; "+
		"managers that serve different --watch-namespaces each need their own, or only one of them leads.")
	flag.StringVar(&s.leaderElectionNamespace, "leader-election-namespace", os.Getenv("POD_NAMESPACE"),
		"Namespace of the leader-election Lease; defaults to $POD_NAMESPACE, required outside a cluster.")
	flag.StringVar(&s.watchNamespaces, "watch-namespaces", "", "Comma-separated namespaces whose LMOs, packages and Licenses this manager serves; "+
		"empty serves all. No two managers may serve one namespace.")
	flag.Float64Var(&kubeQPS, "kube-api-qps", 200, "Queries per second to the Kubernetes API server.")
	flag.IntVar(&s.burst, "kube-api-burst", 400, "Burst of queries to the Kubernetes API server.")
	flag.IntVar(&s.licenseWorkers, "license-workers", 8, "License reconciles run at once.")
	flag.StringVar(&s.pprofAddr, "pprof-bind-address", "0", "Loopback address Go's pprof profiles are served on, unauthenticated (for example 127.0.0.1:6060); \"0\" disables them. Other addresses are refused.")
	flag.Float64Var(&memoryLimitRatio, "memory-limit-ratio", 0.9, "Fraction of the container's memory limit (the "+memoryLimitEnv+
		" environment variable, in bytes, which the Deployment fills from limits.memory) given to the Go runtime as its soft memory limit; "+
		"0 turns it off. GOMEMLIMIT, when set, wins.")
	flag.IntVar(&gcPercentFlag, "gc-percent", 50, "The Go garbage collector's target (as GOGC): how far the heap may grow past what is live "+
		"before a collection. The manager's memory is mostly a long-lived cache; 50 keeps the peak lower than Go's 100 for some CPU. GOGC, when set, wins.")
	opts := zap.Options{}
	flag.StringVar(&allowedHosts, "allowed-lmo-host", "", "Comma-separated hosts, besides Salesforce's own and loopback, that a LicenseManagementOrg's "+
		"instanceURL and loginURL may name (a private gateway); credentials are sent to no other host. Set by the cluster admin.")
	flag.BoolVar(&s.insecureLoopbackHTTP, "allow-insecure-loopback-http", false, "Let a LicenseManagementOrg reach a loopback host over plain http "+
		"(lmosim in development); the address dialed must be loopback. Off, every LMO is reached over https.")
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	log := ctrl.Log.WithName("setup")
	if err := applyMemorySettings(log, memoryLimitRatio, gcPercentFlag); err != nil {
		log.Error(err, "Bad Go memory settings")
		os.Exit(1)
	}
	s.qps, s.allowedHosts = float32(kubeQPS), splitList(allowedHosts)
	if err := run(s); err != nil {
		log.Error(err, "Manager stopped")
		os.Exit(1)
	}
}

// settings are the manager's command-line settings.
type settings struct {
	metricsAddr, probeAddr     string
	secureMetrics, leaderElect bool
	leaderElectionID           string
	leaderElectionNamespace    string
	watchNamespaces            string
	qps                        float32
	burst                      int
	licenseWorkers             int
	allowedHosts               []string
	pprofAddr                  string
	insecureLoopbackHTTP       bool
	// metricsCertPath, metricsCertName and metricsCertKey locate the metrics serving certificate.
	metricsCertPath, metricsCertName, metricsCertKey string
}

func run(s settings) error {
	if err := checkPprofAddress(s.pprofAddr); err != nil {
		return err
	}
	if err := checkMetricsCert(s.metricsCertPath, s.metricsCertName, s.metricsCertKey); err != nil {
		return err
	}
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(licensingv1alpha1.AddToScheme(scheme))

	metricsOpts := metricsserver.Options{
		BindAddress:   s.metricsAddr,
		SecureServing: s.secureMetrics,
		// HTTP/2 is disabled to avoid the HTTP/2 rapid reset and stream cancellation CVEs.
		TLSOpts: []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }},
		// With a certificate directory the server serves (and reloads) those files instead of a
		// self-signed certificate.
		CertDir:  s.metricsCertPath,
		CertName: s.metricsCertName,
		KeyName:  s.metricsCertKey,
	}
	if s.secureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	restCfg := ctrl.GetConfigOrDie()
	restCfg.QPS, restCfg.Burst = s.qps, s.burst
	cacheOpts := cache.Options{
		// The operator never reads managedFields, and a fleet of Licenses repeats most of its strings:
		// dropping the one and sharing the others keeps the informers' memory small.
		DefaultTransform: controllers.CacheTransform,
	}
	if s.watchNamespaces != "" {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range strings.Split(s.watchNamespaces, ",") {
			if ns = strings.TrimSpace(ns); ns != "" {
				cacheOpts.DefaultNamespaces[ns] = cache.Config{}
			}
		}
	}
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsOpts,
		HealthProbeBindAddress:        s.probeAddr,
		LeaderElection:                s.leaderElect,
		LeaderElectionID:              s.leaderElectionID,
		LeaderElectionNamespace:       s.leaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		Cache:                         cacheOpts,
		PprofBindAddress:              s.pprofAddr,
	})
	if err != nil {
		return err
	}
	ctx := ctrl.SetupSignalHandler()
	if err := controllers.SetupWithManager(ctx, mgr, controllers.Options{MaxConcurrentLicenseReconciles: s.licenseWorkers, AllowedHosts: s.allowedHosts,
		AllowInsecureLoopbackHTTP: s.insecureLoopbackHTTP}); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	ctrl.Log.WithName("setup").Info("Starting manager")
	return mgr.Start(ctx)
}

// checkPprofAddress accepts "0" or "" (profiles off) or a loopback IP address with a port: the profiles
// are served without authentication and show memory contents, so no other interface may serve them.
// A name such as localhost is refused too, since what it resolves to is not the manager's to decide.
func checkPprofAddress(addr string) error {
	if addr == "" || addr == "0" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err == nil {
		if ip, perr := netip.ParseAddr(host); perr == nil && ip.IsLoopback() {
			return nil
		}
	}
	return fmt.Errorf("--pprof-bind-address %q: profiles are served without authentication, so only a loopback IP address "+
		"with a port is accepted (for example 127.0.0.1:6060; reach it with kubectl port-forward)", addr)
}

// checkMetricsCert refuses a --metrics-cert-path without its certificate or key: the metrics server
// would otherwise serve a self-signed certificate that the scraper, told to verify, then refuses.
func checkMetricsCert(dir, certName, keyName string) error {
	if dir == "" {
		return nil
	}
	for _, name := range []string{certName, keyName} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("--metrics-cert-path %s: %s is not readable: %w", dir, name, err)
		}
	}
	return nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(v string) []string {
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
