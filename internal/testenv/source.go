package testenv

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
)

// ReasonConstants are the string constants named Reason… declared in the non-test Go files of dir,
// by name, read from the source so that tests check every reason, including one added later. A
// Reason constant whose value is not a string literal is an error: such a test could not read it.
func ReasonConstants(dir string) (map[string]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return nil, err
		}
		for _, decl := range f.Decls {
			if gd, ok := decl.(*ast.GenDecl); ok && gd.Tok == token.CONST {
				if err := reasonsOf(path, gd, out); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}

// reasonsOf adds the Reason constants of one const declaration to out.
func reasonsOf(path string, gd *ast.GenDecl, out map[string]string) error {
	for _, spec := range gd.Specs {
		vs := spec.(*ast.ValueSpec)
		for i, name := range vs.Names {
			if !strings.HasPrefix(name.Name, "Reason") || i >= len(vs.Values) {
				continue
			}
			lit, ok := vs.Values[i].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return fmt.Errorf("%s: %s is not a string literal; give it one so that tests can read it", path, name.Name)
			}
			v, err := strconv.Unquote(lit.Value)
			if err != nil {
				return err
			}
			out[name.Name] = v
		}
	}
	return nil
}
