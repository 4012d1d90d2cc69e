package v1alpha1_test

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lmo-operator/lmo-operator/internal/testenv"
)

// TestEveryReasonIsInTheTroubleshootingGuide reads the Reason constants of the API and checks
// that docs/troubleshooting.md lists each, as a table row of its own, with what to do.
func TestEveryReasonIsInTheTroubleshootingGuide(t *testing.T) {
	byName, err := testenv.ReasonConstants(".")
	if err != nil {
		t.Fatal(err)
	}
	reasons := slices.Sorted(maps.Values(byName))
	if len(reasons) < 40 {
		t.Fatalf("found %d reasons in api/v1alpha1; the parse is wrong", len(reasons))
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
