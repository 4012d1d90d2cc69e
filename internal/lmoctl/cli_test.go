package lmoctl

import (
	"bytes"
	"context"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"
)

// runAs runs lmoctl as program with stderr reported as a terminal or not.
func runAs(t *testing.T, program string, terminal bool, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), args, Env{
		Stdout: &stdout, Stderr: &stderr, Now: func() time.Time { return today },
		Getenv:   func(string) string { return "" },
		Program:  program,
		Terminal: func(io.Writer) bool { return terminal },
	})
	return result{code, stdout.String(), stderr.String()}
}

func TestVersionNamesTheReleaseAndTheGoVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		r := runEnv(t, nil, nil, args...)
		if r.code != ExitOK {
			t.Fatalf("%v: exit %d, %q", args, r.code, r.stderr)
		}
		for _, want := range []string{"lmoctl " + release + "\n", runtime.Version(), runtime.GOOS + "/" + runtime.GOARCH, "revision: "} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%v prints %q, which lacks %q", args, r.stdout, want)
			}
		}
	}
}

func TestCompletionScriptsForEveryShell(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		r := runEnv(t, nil, nil, "completion", shell)
		if r.code != ExitOK || !strings.Contains(r.stdout, "lmoctl") || len(r.stdout) < 500 {
			t.Errorf("completion %s: exit %d, %d bytes, stderr %q", shell, r.code, len(r.stdout), r.stderr)
		}
	}
	// The shells ask the binary itself: -o offers the command's formats.
	r := runEnv(t, nil, nil, "__complete", "plan", "-o", "")
	for _, want := range []string{"table\n", "json\n", "markdown\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("completing plan -o offers %q, not %q", r.stdout, want)
		}
	}
}

func TestEveryCommandsHelpShowsItsUsageAndExample(t *testing.T) {
	for _, c := range commands {
		r := runEnv(t, nil, nil, c.name, "--help")
		if r.code != ExitOK || r.stderr != "" {
			t.Errorf("%s --help: exit %d, stderr %q", c.name, r.code, r.stderr)
		}
		_, usage := splitSynopsis(c.synopsis)
		for _, want := range []string{"Usage:\n  lmoctl " + usage + "\n", "Example:\n" + c.example, "-o, --output"} {
			if c.name == "import" && want == "-o, --output" {
				continue
			}
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%s --help lacks %q:\n%s", c.name, want, r.stdout)
			}
		}
	}
	r := runEnv(t, nil, nil, "--help")
	for _, c := range commands {
		if !strings.Contains(r.stdout, "\n  "+c.name+" ") || !strings.Contains(r.stdout, c.short) {
			t.Errorf("lmoctl --help does not list %s with %q", c.name, c.short)
		}
	}
}

func TestWithoutACommandTheUsageGoesToStderr(t *testing.T) {
	r := runEnv(t, nil, nil)
	if r.code != ExitError || r.stdout != "" || !strings.Contains(r.stderr, "Available Commands:") {
		t.Errorf("no command: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestAsAKubectlPluginHelpAndErrorsSayKubectlLmo(t *testing.T) {
	for _, program := range []string{"kubectl-lmo", "/usr/local/bin/kubectl-lmo", "kubectl-lmo.exe"} {
		r := runAs(t, program, false, "plan", "--help")
		if r.code != ExitOK || !strings.Contains(r.stdout, "Usage:\n  kubectl lmo plan -f DIR") || !strings.Contains(r.stdout, "  kubectl lmo plan -f gitops/acme-projects") {
			t.Errorf("%s plan --help: exit %d\n%s", program, r.code, r.stdout)
		}
		if strings.Contains(r.stdout, "lmoctl plan") {
			t.Errorf("%s plan --help still says lmoctl plan:\n%s", program, r.stdout)
		}
		r = runAs(t, program, false, "plan", "--nope")
		if r.code != ExitError || !strings.HasPrefix(r.stderr, "kubectl lmo plan: unknown flag: --nope\n") {
			t.Errorf("%s plan --nope: exit %d, %q", program, r.code, r.stderr)
		}
	}
	if r := runAs(t, "/usr/bin/lmoctl", false, "plan", "--help"); !strings.Contains(r.stdout, "Usage:\n  lmoctl plan -f DIR") {
		t.Errorf("lmoctl plan --help:\n%s", r.stdout)
	}
	// kubectl completes `kubectl lmo pl<TAB>` and `kubectl lmo plan -o <TAB>` by running
	// kubectl_complete-lmo with the words after "lmo".
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"pl"}, "plan\tShow what applying"},
		{[]string{"plan", "-o", ""}, "table\njson\nmarkdown\n:4\n"},
	} {
		r := runAs(t, "/home/dana/bin/kubectl_complete-lmo", false, tc.args...)
		if r.code != ExitOK || !strings.Contains(r.stdout, tc.want) {
			t.Errorf("kubectl_complete-lmo %q: exit %d, %q, want %q in it", tc.args, r.code, r.stdout, tc.want)
		}
	}
}

func TestUsageErrorsExitOneAndSayWhatIsWrong(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, "lmoctl: unknown command \"frobnicate\" for \"lmoctl\"\nRun 'lmoctl --help' for usage.\n"},
		{[]string{"plan", "--nope"}, "lmoctl plan: unknown flag: --nope\nRun 'lmoctl plan --help' for usage.\n"},
		{[]string{"report", "-x"}, "lmoctl report: unknown shorthand flag: 'x' in -x\nRun 'lmoctl report --help' for usage.\n"},
		{[]string{"plan", "-f"}, "lmoctl plan: flag needs an argument: 'f' in -f\nRun 'lmoctl plan --help' for usage.\n"},
		{[]string{"plan", "-f", "dir", "extra"}, "lmoctl plan: unexpected argument \"extra\"\nRun 'lmoctl plan --help' for usage.\n"},
		{[]string{"check", "--pre=maybe"}, "lmoctl check: invalid argument \"maybe\" for \"--pre\" flag"},
	} {
		r := runEnv(t, nil, nil, tc.args...)
		if r.code != ExitError || !strings.HasPrefix(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 1 and %q", tc.args, r.code, r.stdout, r.stderr, tc.want)
		}
	}
	// A failure of the command itself is not a usage error: no hint to read the help.
	r := runEnv(t, nil, nil, "plan")
	if r.code != ExitError || r.stderr != "lmoctl plan: -f is required: the directory of License YAML to plan\n" {
		t.Errorf("plan without -f: exit %d, %q", r.code, r.stderr)
	}
}

func TestProgressDrawsABarOnATerminalAndLinesElsewhere(t *testing.T) {
	for _, tc := range []struct {
		name     string
		terminal bool
		want     string
	}{
		{"a log gets a line each thousand", false, "Rendered 1000/2500 Licenses\nWarning: one\nRendered 2000/2500 Licenses\n"},
		{"a terminal gets one line redrawn in place", true,
			"\r[===========                   ] Rendered 999/2500 Licenses\x1b[K" +
				"\r[============                  ] Rendered 1000/2500 Licenses\x1b[K" +
				"\r\x1b[KWarning: one\n" +
				"\r[========================      ] Rendered 2000/2500 Licenses\x1b[K" +
				"\r[==============================] Rendered 2500/2500 Licenses\x1b[K" +
				"\r\x1b[K"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			env := &Env{Stderr: &out, Terminal: func(w io.Writer) bool { return tc.terminal && w == &out }}
			p := newProgress(env, "Rendered", "Licenses")
			for _, n := range []int{999, 1000, 1000, 1001} {
				p.update(n, 2500)
			}
			p.printf("Warning: %s\n", "one")
			for _, n := range []int{2000, 2500} {
				p.update(n, 2500)
			}
			p.done()
			p.done()
			if got := out.String(); got != tc.want {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// On a terminal import and report show their progress in place and clear it before their summary;
// in a log (the other tests) they write no carriage return.
func TestImportAndReportShowProgressOnATerminal(t *testing.T) {
	s := startSim(t, func() time.Time { return today })
	vars := map[string]string{"LMO_INSTANCE_URL": s.url, "LMO_CLIENT_ID": "lmo-operator", "LMO_CLIENT_SECRET": testSecret}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"import", "--package", "033000000000002", "--lmo-ref", "acme-lmo", "--out", t.TempDir()}, "Rendered 2/2 Licenses\x1b[K\r\x1b[K"},
		{[]string{"report"}, "\rRead 12 licenses\x1b[K\r\x1b[K"},
	} {
		for _, terminal := range []bool{true, false} {
			var stdout, stderr bytes.Buffer
			code := Main(context.Background(), tc.args, Env{
				Stdout: &stdout, Stderr: &stderr, Now: func() time.Time { return today },
				Getenv: func(k string) string { return vars[k] }, Terminal: func(io.Writer) bool { return terminal },
			})
			if code != ExitOK {
				t.Fatalf("%v: exit %d, %q", tc.args, code, stderr.String())
			}
			if got := strings.Contains(stderr.String(), tc.want); got != terminal {
				t.Errorf("%v on a terminal=%v: stderr %q, want %q in it only on a terminal", tc.args, terminal, stderr.String(), tc.want)
			}
			if !terminal && strings.Contains(stderr.String(), "\r") {
				t.Errorf("%v not on a terminal writes a carriage return: %q", tc.args, stderr.String())
			}
		}
	}
}
