package sfid

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{"a 15-character id is an id", "00570000001ZwTi", ""},
		{"its 18-character form is an id", "00570000001ZwTiAAK", ""},
		{"an account id with its suffix is an id", "001A0000006Vm9rIAC", ""},
		{"an id in capitals has the highest suffix", "ABCDEFGHIJKLMNO555", ""},
		{"an 18-character id whose suffix does not match its case is refused", "00570000001ZwTiAAA", "ends in AAA, but the case of its first 15 characters makes AAK"},
		{"the suffix of the other case is refused", "00570000001zwtiAAK", "makes AAA"},
		{"a lower-cased 18-character id is refused", "00570000001zwtiaak", "ends in aak"},
		{"16 characters are refused", "00570000001ZwTiA", "has 16 characters, want 15 or 18"},
		{"an empty id is refused", "", "has 0 characters"},
		{"punctuation is refused", "0057000000-ZwTi", `has '-' at position 11`},
		{"a quote is refused", "0057000000'ZwTi", `has '\'' at position 11`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr == "" {
				if err != nil || string(got) != tt.in {
					t.Fatalf("Parse(%q) = %q, %v; want the id", tt.in, got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Parse(%q) = %q, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
			}
		})
	}
}

func TestForms(t *testing.T) {
	tests := []struct {
		name        string
		id          ID
		key15, to18 string
	}{
		{"a user id gets the suffix Salesforce documents", "00570000001ZwTi", "00570000001ZwTi", "00570000001ZwTiAAK"},
		{"an account id gets the suffix Salesforce documents", "001A0000006Vm9r", "001A0000006Vm9r", "001A0000006Vm9rIAC"},
		{"an 18-character id keeps its form", "001A0000006Vm9rIAC", "001A0000006Vm9r", "001A0000006Vm9rIAC"},
		{"an 18-character id with a wrong suffix gets the right one", "001A0000006Vm9rAAA", "001A0000006Vm9r", "001A0000006Vm9rIAC"},
		{"a chunk in capitals makes the last suffix character", "ABCDE0000000000", "ABCDE0000000000", "ABCDE00000000005AA"},
		{"a shorter string is its own 15-character form and stays as it is", "033abc", "033abc", "033abc"},
		{"a string that is not base 62 stays as it is", "0057000000-ZwTi", "0057000000-ZwTi", "0057000000-ZwTi"},
		{"the empty id stays empty", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.id.Key15(); got != tt.key15 {
				t.Errorf("ID(%q).Key15() = %q, want %q", tt.id, got, tt.key15)
			}
			if got := tt.id.To18(); got != tt.to18 {
				t.Errorf("ID(%q).To18() = %q, want %q", tt.id, got, tt.to18)
			}
			if Key15(string(tt.id)) != tt.key15 || To18(string(tt.id)) != tt.to18 {
				t.Errorf("Key15 and To18 of the string %q differ from the ID's", tt.id)
			}
		})
	}
}

func TestEqual(t *testing.T) {
	tests := []struct {
		name string
		a, b ID
		want bool
	}{
		{"the 15 and 18 forms of one record are equal", "00570000001ZwTi", "00570000001ZwTiAAK", true},
		{"the 18 and 15 forms of one record are equal", "00570000001ZwTiAAK", "00570000001ZwTi", true},
		{"an id equals itself", "001A0000006Vm9rIAC", "001A0000006Vm9rIAC", true},
		{"15-character ids differing in case are different records", "00570000001ZwTi", "00570000001zwti", false},
		{"18-character ids whose first 15 differ in case are different records", "00570000001ZwTiAAK", "00570000001zwtiAAA", false},
		{"different records differ", "001A0000006Vm9r", "001A0000006Vm9s", false},
		{"the empty id equals only the empty id", "", "00570000001ZwTi", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Equal(tt.b); got != tt.want {
				t.Errorf("ID(%q).Equal(%q) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
			if got := Same(string(tt.a), string(tt.b)); got != tt.want {
				t.Errorf("Same(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

// The controllers and the decision packages import sfid although they may not import the client
// (internal/engine's import test): sfid stays a leaf that imports only the standard library.
func TestImportsOnlyTheStandardLibrary(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); strings.Contains(strings.SplitN(p, "/", 2)[0], ".") {
				t.Errorf("%s imports %s; sfid imports only the standard library", name, p)
			}
		}
	}
}
