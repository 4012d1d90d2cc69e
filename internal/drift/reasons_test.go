package drift_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lmo-operator/lmo-operator/internal/drift"
)

// A policy's Reason becomes the License condition's reason as it is, so every Reason constant of
// this package must be a condition reason the API declares (api/v1alpha1/conditions.go), by the
// same name and value. The constants are read from the source, so a new one is checked too.
func TestEveryReasonIsAnAPIConditionReason(t *testing.T) {
	ours := reasonConstants(t, ".")
	api := reasonConstants(t, filepath.Join("..", "..", "api", "v1alpha1"))
	if ours["ReasonInvalidSpec"] != drift.ReasonInvalidSpec || api["ReasonInvalidSpec"] == "" {
		t.Fatalf("the parse found %v here and %d reasons in the API; it is wrong", ours, len(api))
	}
	for name, value := range ours {
		switch declared, ok := api[name]; {
		case !ok:
			t.Errorf("drift.%s (%q) is not a condition reason of api/v1alpha1; declare it there (and in docs/troubleshooting.md)", name, value)
		case declared != value:
			t.Errorf("drift.%s is %q but the API's %s is %q", name, value, name, declared)
		}
	}
}

// reasonConstants are the string constants named Reason… in the non-test Go files of dir, by name.
func reasonConstants(t *testing.T, dir string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !strings.HasPrefix(name.Name, "Reason") || i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Fatalf("%s: %s is not a string literal; give it one so this test can read it", path, name.Name)
					}
					v, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					out[name.Name] = v
				}
			}
		}
	}
	return out
}
