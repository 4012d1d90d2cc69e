package metrics

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/yaml"
)

// The alerts and the dashboard must only use series the operator exports, so a renamed metric
// cannot silently blank a panel or mute an alert.
func TestAlertsAndDashboardUseExportedSeries(t *testing.T) {
	exported := exportedNames(t)
	seriesName := regexp.MustCompile(`\blmo_[a-z_]+`)
	for _, file := range []string{"rules.yaml", "grafana-dashboard.json"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "config", "prometheus", file))
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s does not parse: %v", file, err)
		}
		used := seriesName.FindAllString(string(data), -1)
		if len(used) == 0 {
			t.Fatalf("%s uses no lmo_ series", file)
		}
		for _, name := range used {
			if !exported[name] {
				t.Errorf("%s uses %s, which the operator does not export (exported: %v)", file, name, keys(exported))
			}
		}
	}
}

func TestTheFourAlertsExist(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "prometheus", "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rule struct {
		Spec struct {
			Groups []struct {
				Rules []struct {
					Alert string `json:"alert"`
					Expr  string `json:"expr"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(data, &rule); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, g := range rule.Spec.Groups {
		for _, r := range g.Rules {
			got[r.Alert] = r.Expr != ""
		}
	}
	for _, want := range []string{"LMOAPIBudgetBelowReserve", "LMOUnreachable", "LMOLicensesDrifted", "LMOWritesFailing"} {
		if !got[want] {
			t.Errorf("alert %s is missing or has no expression", want)
		}
	}
}

// exportedNames lists the operator's series names, with the _bucket/_sum/_count of histograms.
func exportedNames(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, c := range []prometheus.Collector{apiCalls, apiUsage, apiReserve, writeBatchSize, recordsWritten, syncDuration,
		licenses, trialsExpiring, drifted, lmoUp} {
		ch := make(chan *prometheus.Desc, 4)
		c.Describe(ch)
		close(ch)
		for d := range ch {
			name := regexp.MustCompile(`fqName: "([^"]+)"`).FindStringSubmatch(d.String())[1]
			out[name] = true
			if _, isHist := c.(*prometheus.HistogramVec); isHist {
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					out[name+suffix] = true
				}
			}
		}
	}
	return out
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// targetLabels are the labels Prometheus Operator puts on every scraped series; an exported label of
// the same name is renamed exported_<name> (ServiceMonitors here do not honour labels), so alerts and
// dashboards would read the operator's own namespace or pod instead of the one meant.
var targetLabels = []string{"namespace", "pod", "service", "job", "instance", "container", "endpoint"}

func TestNoExportedLabelCollidesWithATargetLabel(t *testing.T) {
	for name, labels := range exportedLabels(t) {
		for _, l := range labels {
			for _, target := range targetLabels {
				if l == target {
					t.Errorf("%s has the label %q, which Prometheus Operator's target label overwrites", name, l)
				}
			}
		}
	}
}

// The alerts may only name, in $labels, labels that their series carry (or target labels).
func TestAlertsNameOnlyLabelsTheirSeriesCarry(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "prometheus", "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	labels := exportedLabels(t)
	var rule monitoringRule
	if err := yaml.Unmarshal(data, &rule); err != nil {
		t.Fatal(err)
	}
	ref := regexp.MustCompile(`\$labels\.([a-z_]+)`)
	series := regexp.MustCompile(`\blmo_[a-z_]+`)
	for _, g := range rule.Spec.Groups {
		for _, r := range g.Rules {
			carried := map[string]bool{}
			for _, tl := range targetLabels {
				carried[tl] = true
			}
			for _, name := range series.FindAllString(r.Expr, -1) {
				for _, l := range labels[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")] {
					carried[l] = true
				}
			}
			for name, ls := range controllerRuntimeLabels {
				if strings.Contains(r.Expr, name+"{") {
					for _, l := range ls {
						carried[l] = true
					}
				}
			}
			for _, text := range r.Annotations {
				for _, m := range ref.FindAllStringSubmatch(text, -1) {
					if !carried[m[1]] {
						t.Errorf("alert %s names $labels.%s, which its series do not carry", r.Alert, m[1])
					}
				}
			}
		}
	}
}

// exportedLabels lists each exported metric's variable labels.
func exportedLabels(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	re := regexp.MustCompile(`fqName: "([^"]+)".*variableLabels: \{([^}]*)\}`)
	for _, c := range []prometheus.Collector{apiCalls, apiUsage, apiReserve, writeBatchSize, recordsWritten, syncDuration,
		licenses, trialsExpiring, drifted, lmoUp} {
		ch := make(chan *prometheus.Desc, 4)
		c.Describe(ch)
		close(ch)
		for d := range ch {
			m := re.FindStringSubmatch(d.String())
			if m == nil {
				t.Fatalf("cannot read the labels of %s", d)
			}
			out[m[1]] = strings.Fields(strings.ReplaceAll(m[2], ",", " "))
		}
	}
	return out
}

// docs/metrics.md lists every series with its type and exactly its labels.
func TestMetricsDocListsEverySeriesWithItsLabels(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	for name, labels := range exportedLabels(t) {
		i := strings.Index(doc, "| `"+name+"` |")
		if i < 0 {
			t.Errorf("docs/metrics.md has no row for %s", name)
			continue
		}
		row := doc[i:]
		row = row[:strings.IndexByte(row, '\n')]
		cells := strings.Split(strings.Trim(row, "|"), "|")
		if len(cells) < 5 {
			t.Errorf("the row of %s has %d cells: %s", name, len(cells), row)
			continue
		}
		var documented []string
		for _, l := range strings.Split(cells[2], ",") {
			documented = append(documented, strings.Trim(strings.TrimSpace(l), "`"))
		}
		want := append([]string(nil), labels...)
		sort.Strings(want)
		sort.Strings(documented)
		if strings.Join(want, ",") != strings.Join(documented, ",") {
			t.Errorf("%s: docs/metrics.md names the labels %v, the series has %v", name, documented, want)
		}
	}
}

// Every alert links its runbook: a section of docs/troubleshooting.md named after it.
func TestEveryAlertHasARunbook(t *testing.T) {
	var rule monitoringRule
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "prometheus", "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &rule); err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "troubleshooting.md"))
	if err != nil {
		t.Fatal(err)
	}
	const base = "https://github.com/lmo-operator/lmo-operator/blob/main/docs/troubleshooting.md#"
	alerts := 0
	for _, g := range rule.Spec.Groups {
		for _, r := range g.Rules {
			alerts++
			url := r.Annotations["runbook_url"]
			if url != base+strings.ToLower(r.Alert) {
				t.Errorf("alert %s: runbook_url %q, want %s%s", r.Alert, url, base, strings.ToLower(r.Alert))
			}
			if !strings.Contains(string(doc), "\n### "+r.Alert+"\n") {
				t.Errorf("docs/troubleshooting.md has no section ### %s", r.Alert)
			}
		}
	}
	if alerts < 7 {
		t.Errorf("%d alerts; want the four on the LMOs and three on the operator itself", alerts)
	}
}

// controllerRuntimeLabels are the labels of the controller-runtime series the alerts on the operator
// itself read (sigs.k8s.io/controller-runtime pkg/internal/controller/metrics and pkg/internal/metrics).
var controllerRuntimeLabels = map[string][]string{
	"controller_runtime_reconcile_total":        {"controller", "result"},
	"controller_runtime_reconcile_errors_total": {"controller"},
	"workqueue_depth":                           {"name", "controller", "priority"},
}

// monitoringRule is the part of a PrometheusRule the tests read.
type monitoringRule struct {
	Spec struct {
		Groups []struct {
			Rules []struct {
				Alert       string            `json:"alert"`
				Expr        string            `json:"expr"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	} `json:"spec"`
}

// The dashboard narrows every lmo_ series by its variables: $lmo for the series that carry lmo,
// $license_namespace for the drift; and it shows the controllers' reconcile errors and queue depth.
func TestDashboardFiltersByItsVariables(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "prometheus", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Templating struct {
			List []struct {
				Name string `json:"name"`
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}
	vars := map[string]bool{}
	for _, v := range dash.Templating.List {
		vars[v.Name] = true
	}
	for _, want := range []string{"datasource", "lmo", "license_namespace"} {
		if !vars[want] {
			t.Errorf("the dashboard has no variable %s", want)
		}
	}
	labels := exportedLabels(t)
	selector := regexp.MustCompile(`\b(lmo_[a-z_]+?)(_bucket|_sum|_count)?(\{[^}]*\})?[\[\s)]`)
	exprs := ""
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs += tg.Expr + "\n"
			for _, m := range selector.FindAllStringSubmatch(tg.Expr+" ", -1) {
				want := ""
				for _, l := range labels[m[1]] {
					switch l {
					case "lmo":
						want = `lmo=~"$lmo"`
					case "license_namespace":
						want = `license_namespace=~"$license_namespace"`
					}
				}
				if want != "" && !strings.Contains(m[3], want) {
					t.Errorf("panel %q reads %s without %s: %s", p.Title, m[1], want, tg.Expr)
				}
			}
		}
	}
	for _, series := range []string{"controller_runtime_reconcile_errors_total", "workqueue_depth"} {
		if !strings.Contains(exprs, series) {
			t.Errorf("no panel shows %s", series)
		}
	}
}
