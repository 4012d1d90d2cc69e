// Package metrics defines the operator's Prometheus metrics (prefix lmo_) and records them in one
// place. They are served on the manager's metrics endpoint with controller-runtime's own.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/lmo-operator/lmo-operator/internal/engine"
)

var (
	// apiCalls counts every call to Salesforce by LMO, operation and result.
	apiCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lmo_api_calls_total",
		Help: "Salesforce API calls by LicenseManagementOrg, operation (token, query, queryMore, composite, collectionsPatch, describe, limits) and result (success or the error class).",
	}, []string{"lmo", "operation", "result"})

	// apiUsage is the share of the org's daily API limit used.
	apiUsage = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "lmo_api_daily_usage_ratio",
		Help: "Share of the org's daily API request limit used, from the last Sforce-Limit-Info header.",
	}, []string{"lmo"})

	// apiReserve is the share of the daily limit the LMO keeps in reserve (spec.apiBudget).
	apiReserve = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "lmo_api_reserve_ratio",
		Help: "Share of the org's daily API limit the operator leaves untouched (spec.apiBudget.reservePercent / 100).",
	}, []string{"lmo"})

	// writeBatchSize is the number of records in each sObject Collections call.
	writeBatchSize = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "lmo_write_batch_size",
		Help:    "Records per sObject Collections write.",
		Buckets: []float64{1, 5, 10, 25, 50, 100, 150, 200},
	}, []string{"lmo"})

	// recordsWritten counts records written or refused.
	recordsWritten = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lmo_records_written_total",
		Help: "LMO records the operator wrote, by result (success or failure).",
	}, []string{"lmo", "result"})

	// syncDuration is how long each mirror sync took.
	syncDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "lmo_sync_duration_seconds",
		Help:    "Duration of mirror syncs with the LMO, by kind (full or incremental).",
		Buckets: prometheus.ExponentialBuckets(0.05, 2, 12),
	}, []string{"lmo", "kind"})

	// licenses counts license records by package and status.
	licenses = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "lmo_licenses",
		Help: "License records in the LMO mirror by package and status.",
	}, []string{"lmo", "package", "status"})

	// trialsExpiring counts Trial licenses expiring within 7 and 30 days.
	trialsExpiring = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "lmo_trials_expiring",
		Help: "Trial licenses whose expiration falls within the window (7d or 30d).",
	}, []string{"lmo", "package", "within"})

	// drifted counts License resources whose LMO record differs from the spec.
	drifted = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "lmo_licenses_drifted",
		Help: "License resources whose LMO record differs from the spec (Drifted=True), by the Licenses' namespace.",
		// Not "namespace": Prometheus Operator sets that target label to the operator's own namespace.
	}, []string{"license_namespace"})

	// lmoUp is 1 while the operator holds a session for the LMO.
	lmoUp = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "lmo_up",
		Help: "1 while the operator is connected to the LMO and its mirror is loaded, else 0.",
	}, []string{"lmo"})
)

func init() {
	ctrlmetrics.Registry.MustRegister(apiCalls, apiUsage, apiReserve, writeBatchSize, recordsWritten, syncDuration,
		licenses, trialsExpiring, drifted, lmoUp)
}

// RecordCall records one Salesforce call and the usage it reported.
func RecordCall(lmo string, ci engine.CallInfo) {
	result := "success"
	if ci.Err != nil {
		result = engine.ErrorClassOf(ci.Err).String()
	}
	apiCalls.WithLabelValues(lmo, ci.Operation, result).Inc()
	if ci.Usage.Max > 0 {
		apiUsage.WithLabelValues(lmo).Set(float64(ci.Usage.Used) / float64(ci.Usage.Max))
	}
}

// RecordWrites records one Collections call's records.
func RecordWrites(lmo string, succeeded, failed int) {
	writeBatchSize.WithLabelValues(lmo).Observe(float64(succeeded + failed))
	recordsWritten.WithLabelValues(lmo, "success").Add(float64(succeeded))
	recordsWritten.WithLabelValues(lmo, "failure").Add(float64(failed))
}

// RecordSync records the duration of a mirror sync; kind is full or incremental.
func RecordSync(lmo, kind string, seconds float64) {
	syncDuration.WithLabelValues(lmo, kind).Observe(seconds)
}

// LMOState is what the gauges show of one LMO.
type LMOState struct {
	Up             bool
	ReserveRatio   float64
	Licenses       map[[2]string]int // package, status
	TrialsExpiring map[[2]string]int // package, window
}

// SetLMO replaces the gauges of one LMO.
func SetLMO(lmo string, s LMOState) {
	up := 0.0
	if s.Up {
		up = 1
	}
	lmoUp.WithLabelValues(lmo).Set(up)
	apiReserve.WithLabelValues(lmo).Set(s.ReserveRatio)
	licenses.DeletePartialMatch(prometheus.Labels{"lmo": lmo})
	for k, n := range s.Licenses {
		licenses.WithLabelValues(lmo, k[0], k[1]).Set(float64(n))
	}
	trialsExpiring.DeletePartialMatch(prometheus.Labels{"lmo": lmo})
	for k, n := range s.TrialsExpiring {
		trialsExpiring.WithLabelValues(lmo, k[0], k[1]).Set(float64(n))
	}
}

// SetDown records that no engine runs for the LMO (its Secret is missing or invalid, or its host is
// not allowed): lmo_up is 0, so LMOUnreachable fires.
func SetDown(lmo string) { lmoUp.WithLabelValues(lmo).Set(0) }

// ForgetLMO removes the series of an LMO that no longer exists.
func ForgetLMO(lmo string) {
	for _, v := range []*prometheus.GaugeVec{apiUsage, apiReserve, licenses, trialsExpiring, lmoUp} {
		v.DeletePartialMatch(prometheus.Labels{"lmo": lmo})
	}
}

// SetDrifted sets the number of drifted Licenses of a namespace.
func SetDrifted(namespace string, n int) {
	drifted.WithLabelValues(namespace).Set(float64(n))
}
