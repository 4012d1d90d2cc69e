package v1alpha1_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestEveryReasonIsInTheTroubleshootingGuide reads the Reason constants of conditions.go and checks
// that docs/troubleshooting.md lists each, as a table row of its own, with what to do.
func TestEveryReasonIsInTheTroubleshootingGuide(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "conditions.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
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
				if !ok {
					continue
				}
				v, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				reasons = append(reasons, v)
			}
		}
	}
	if len(reasons) < 40 {
		t.Fatalf("found %d reasons in conditions.go; the parse is wrong", len(reasons))
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "troubleshooting.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reasons {
		row := "| `" + r + "` |"
		i := strings.Index(string(doc), row)
		if i < 0 {
			t.Errorf("docs/troubleshooting.md has no row for reason %s", r)
			continue
		}
		line := string(doc[i:])
		line = line[:strings.IndexByte(line, '\n')]
		if cells := strings.Split(strings.Trim(line, "|"), "|"); len(cells) < 4 || strings.TrimSpace(cells[len(cells)-1]) == "" {
			t.Errorf("the row for reason %s says nothing to do: %s", r, line)
		}
	}
}
