package engine

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Only the engine, lmoctl, the bench and the test harness (which seed and read lmosim as an admin
// would) talk to Salesforce's client: controllers, metrics and the decision packages use what the
// engine names (facade.go), so the client can change behind it.
func TestOnlyTheEngineAndLmoctlImportTheSalesforceClient(t *testing.T) {
	const client = "github.com/lmo-operator/lmo-operator/internal/salesforce"
	allowed := []string{"internal/engine", "internal/lmoctl", "internal/salesforce", "internal/lmosim", "cmd/lmoctl", "cmd/lmosim", "hack/bench", "internal/testenv"}
	_, self, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(self), "..", "..")
	var offenders []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "vendor" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == client && !slices.Contains(allowed, filepath.ToSlash(filepath.Dir(rel))) {
				offenders = append(offenders, rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(offenders) > 0 {
		t.Errorf("these files import %s; use what internal/engine names instead: %v", client, offenders)
	}
}
