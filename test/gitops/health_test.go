package gitops

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	lua "github.com/yuin/gopher-lua"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
)

// argoDir holds the Argo CD health check and its test cases.
const argoDir = "../../config/argocd"

// group is the API group of the operator's kinds, as it appears in Argo CD's customization keys.
const group = "licensing.lmo-operator.dev"

// kinds are the kinds the health check is installed for.
var kinds = []string{"License", "ManagedPackage", "LicenseManagementOrg"}

// healthStatus is what an Argo CD health script returns (gitops-engine's health.HealthStatus).
type healthStatus struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// healthTest is one entry of health_test.yaml, in the layout Argo CD's own resource_customizations use.
type healthTest struct {
	HealthStatus healthStatus `json:"healthStatus"`
	InputPath    string       `json:"inputPath"`
}

func TestHealthCheckCases(t *testing.T) {
	script := readFile(t, filepath.Join(argoDir, "health.lua"))

	cases := loadHealthTests(t)
	if len(cases) < 8 {
		t.Fatalf("health_test.yaml has %d cases, want at least 8", len(cases))
	}

	covered := map[string]bool{}
	for _, tc := range cases {
		t.Run(strings.TrimSuffix(filepath.Base(tc.InputPath), ".yaml"), func(t *testing.T) {
			obj := readObject(t, filepath.Join(argoDir, tc.InputPath))
			if obj.GroupVersionKind().Group != group || !slices.Contains(kinds, obj.GetKind()) {
				t.Fatalf("%s is a %s, not one of the operator's kinds", tc.InputPath, obj.GroupVersionKind())
			}
			covered[obj.GetKind()] = true

			got, err := runHealthScript(obj, script)
			if err != nil {
				t.Fatalf("Running health.lua: %v", err)
			}
			if diff := cmp.Diff(tc.HealthStatus, got); diff != "" {
				t.Errorf("Health of %s (-want +got):\n%s", tc.InputPath, diff)
			}
		})
	}
	for _, kind := range kinds {
		if !covered[kind] {
			t.Errorf("No case in health_test.yaml covers %s", kind)
		}
	}
}

func TestHealthCheckTestdataIsAllUsed(t *testing.T) {
	used := map[string]bool{}
	for _, tc := range loadHealthTests(t) {
		used[filepath.Clean(tc.InputPath)] = true
	}
	files, err := filepath.Glob(filepath.Join(argoDir, "testdata", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		rel, _ := filepath.Rel(argoDir, f)
		if !used[rel] {
			t.Errorf("%s has no case in health_test.yaml", rel)
		}
	}
}

// TestConfigMapPatchEmbedsHealthScript keeps argocd-cm-patch.yaml in step with health.lua: the patch is what
// users install, health.lua is what the cases test.
func TestConfigMapPatchEmbedsHealthScript(t *testing.T) {
	script := readFile(t, filepath.Join(argoDir, "health.lua"))

	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict([]byte(readFile(t, filepath.Join(argoDir, "argocd-cm-patch.yaml"))), &cm); err != nil {
		t.Fatalf("Parsing argocd-cm-patch.yaml: %v", err)
	}
	if cm.Kind != "ConfigMap" || cm.Name != "argocd-cm" {
		t.Errorf("argocd-cm-patch.yaml patches %s %q, want ConfigMap \"argocd-cm\"", cm.Kind, cm.Name)
	}

	want := map[string]string{}
	for _, kind := range kinds {
		want["resource.customizations.health."+group+"_"+kind] = script
	}
	if diff := cmp.Diff(want, cm.Data); diff != "" {
		t.Errorf("argocd-cm data differs from health.lua for each kind (-want +got):\n%s", diff)
	}
}

func TestHealthCheckReturnsOnlyArgoCDStatuses(t *testing.T) {
	script := readFile(t, filepath.Join(argoDir, "health.lua"))
	valid := []string{"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}

	// Condition shapes the controllers do not produce today, so a later edit cannot make the script fail
	// or return something Argo CD would replace with Unknown.
	statuses := []map[string]any{
		{},
		{"conditions": []any{}},
		{"conditions": []any{map[string]any{"type": "Synced", "status": "True"}}},
		{"conditions": []any{map[string]any{"type": "Ready"}}},
		{"conditions": []any{map[string]any{"type": "Ready", "status": "False"}}},
		{"conditions": []any{map[string]any{"type": "Stalled", "status": "True"}}},
		{"observedGeneration": int64(7), "conditions": []any{map[string]any{"type": "Reconciling", "status": "True"}}},
	}
	for i, status := range statuses {
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": group + "/v1alpha1",
			"kind":       "License",
			"metadata":   map[string]any{"name": "edge", "generation": int64(7)},
			"status":     status,
		}}
		got, err := runHealthScript(obj, script)
		if err != nil {
			t.Errorf("Status %d: running health.lua: %v", i, err)
			continue
		}
		if !slices.Contains(valid, got.Status) || got.Message == "" {
			t.Errorf("Status %d: health.lua returned %+v, want a valid status with a message", i, got)
		}
	}
}

// runHealthScript runs an Argo CD health script the way Argo CD runs one from argocd-cm (util/lua in
// argoproj/argo-cd): the standard libraries are skipped except package, base and table, the object is
// the global obj, and the script's returned table is the health status.
func runHealthScript(obj *unstructured.Unstructured, script string) (healthStatus, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			return healthStatus{}, fmt.Errorf("opening %s: %w", lib.name, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)

	l.SetGlobal("obj", toLua(l, obj.Object))
	if err := l.DoString(script); err != nil {
		return healthStatus{}, err
	}
	ret, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return healthStatus{}, fmt.Errorf("health.lua returned %s, want a table", l.Get(-1).Type())
	}
	return healthStatus{
		Status:  luaString(ret.RawGetString("status")),
		Message: luaString(ret.RawGetString("message")),
	}, nil
}

// toLua converts an unstructured object into Lua values as Argo CD's decodeValue does: maps and lists
// become tables, numbers of any width become numbers, and anything else becomes nil.
func toLua(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case json.Number:
		return lua.LString(v)
	case int:
		return lua.LNumber(v)
	case int32:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case []any:
		list := l.CreateTable(len(v), 0)
		for _, item := range v {
			list.Append(toLua(l, item))
		}
		return list
	case map[string]any:
		table := l.CreateTable(0, len(v))
		for key, item := range v {
			table.RawSetString(key, toLua(l, item))
		}
		return table
	default:
		return lua.LNil
	}
}

func luaString(v lua.LValue) string {
	if v == lua.LNil {
		return ""
	}
	return v.String()
}

// readObject reads a YAML object the way the API server hands it to Argo CD: integers as int64.
func readObject(t *testing.T, path string) *unstructured.Unstructured {
	t.Helper()
	data, err := yaml.YAMLToJSON([]byte(readFile(t, path)))
	if err != nil {
		t.Fatalf("Parsing %s: %v", path, err)
	}
	obj := map[string]any{}
	if err := utiljson.Unmarshal(data, &obj); err != nil {
		t.Fatalf("Decoding %s: %v", path, err)
	}
	return &unstructured.Unstructured{Object: obj}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// loadHealthTests reads the cases of health_test.yaml.
func loadHealthTests(t *testing.T) []healthTest {
	t.Helper()
	var suite struct {
		Tests []healthTest `json:"tests"`
	}
	if err := yaml.UnmarshalStrict([]byte(readFile(t, filepath.Join(argoDir, "health_test.yaml"))), &suite); err != nil {
		t.Fatalf("Parsing health_test.yaml: %v", err)
	}
	return suite.Tests
}

// TestHealthCheckTestdataMatchesAPI decodes every test object strictly into the operator's Go types, so
// a field the API does not have (a renamed status field, a typo) fails here instead of silently being
// ignored by the health script.
func TestHealthCheckTestdataMatchesAPI(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(argoDir, "testdata", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			data := []byte(readFile(t, f))
			var into any
			switch kind := readObject(t, f).GetKind(); kind {
			case "License":
				into = &licensingv1alpha1.License{}
			case "ManagedPackage":
				into = &licensingv1alpha1.ManagedPackage{}
			case "LicenseManagementOrg":
				into = &licensingv1alpha1.LicenseManagementOrg{}
			default:
				t.Fatalf("Unexpected kind %q", kind)
			}
			if err := yaml.UnmarshalStrict(data, into); err != nil {
				t.Errorf("%s does not decode as the API type: %v", f, err)
			}
		})
	}
}
