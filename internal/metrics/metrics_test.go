package metrics

import (
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lmo-operator/lmo-operator/internal/salesforce"
)

func TestRecordCallCountsByOperationAndResult(t *testing.T) {
	lmo := "ns/record-call"
	RecordCall(lmo, salesforce.CallInfo{Operation: salesforce.OpComposite, Usage: salesforce.Usage{Used: 250, Max: 1000}})
	RecordCall(lmo, salesforce.CallInfo{Operation: salesforce.OpComposite})
	RecordCall(lmo, salesforce.CallInfo{Operation: "collectionsPatch", Err: &salesforce.APIError{StatusCode: 403, Code: "REQUEST_LIMIT_EXCEEDED"}})
	RecordCall(lmo, salesforce.CallInfo{Operation: "query", Err: errors.New("connection reset")})

	cases := []struct {
		name              string
		operation, result string
		want              float64
	}{
		{"successes are counted per operation", salesforce.OpComposite, "success", 2},
		{"a refused call is counted under its error class", "collectionsPatch", salesforce.LimitExceeded.String(), 1},
		{"an unknown error is counted as terminal", "query", salesforce.Terminal.String(), 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := testutil.ToFloat64(apiCalls.WithLabelValues(lmo, c.operation, c.result)); got != c.want {
				t.Errorf("lmo_api_calls_total{operation=%q,result=%q} = %v, want %v", c.operation, c.result, got, c.want)
			}
		})
	}
	if got := testutil.ToFloat64(apiUsage.WithLabelValues(lmo)); got != 0.25 {
		t.Errorf("lmo_api_daily_usage_ratio = %v, want 0.25 (the last call with a usage header)", got)
	}
}

func TestSetLMOReplacesTheGaugesOfThatLMO(t *testing.T) {
	lmo := "ns/set-lmo"
	SetLMO(lmo, LMOState{Up: true, ReserveRatio: 0.2, Licenses: map[[2]string]int{{"033A", "Trial"}: 3, {"033A", "Active"}: 5}})
	SetLMO(lmo, LMOState{Up: false, ReserveRatio: 0.2, Licenses: map[[2]string]int{{"033A", "Active"}: 6}})
	if got := testutil.ToFloat64(licenses.WithLabelValues(lmo, "033A", "Active")); got != 6 {
		t.Errorf("Active = %v, want 6", got)
	}
	if n := testutil.CollectAndCount(licenses, "lmo_licenses"); n != 1 {
		t.Errorf("a status no longer present kept its series: %d series", n)
	}
	if got := testutil.ToFloat64(lmoUp.WithLabelValues(lmo)); got != 0 {
		t.Errorf("lmo_up = %v, want 0", got)
	}
	ForgetLMO(lmo)
	if got := testutil.CollectAndCount(lmoUp, "lmo_up"); got != 0 {
		t.Errorf("ForgetLMO left lmo_up series behind")
	}
}
