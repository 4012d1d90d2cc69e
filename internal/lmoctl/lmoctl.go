// Package lmoctl is the command-line companion of lmo-operator: `import` writes License and
// ManagedPackage YAML from an existing LMO, `plan` shows what applying a directory of Licenses would
// change in the LMO, `report` summarises the install base, trials, churn and conversions, and
// `audit` lists every change to a managed field and who made it, and `doctor` checks that an LMO
// is ready for the operator. It
// only reads the LMO: no command ever writes a record.
//
// Main is the whole program, a cobra command tree (help, shell completion, `lmoctl version`);
// cmd/lmoctl calls it with the process's arguments and streams. Tests call it with a fixed clock and
// an lmosim URL. Installed as kubectl-lmo, the same binary is a kubectl plugin.
package lmoctl

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// Exit codes of lmoctl.
const (
	// ExitOK means success; for plan, that nothing would change.
	ExitOK = 0
	// ExitError means the command failed: a bad flag, file or field, or an LMO error.
	ExitError = 1
	// ExitChanges is plan's answer when applying the directory would change something (or cannot).
	ExitChanges = 2
)

// Env is what lmoctl takes from its surroundings; tests replace parts of it.
type Env struct {
	// Stdout receives the command's output (YAML paths, tables, JSON).
	Stdout io.Writer
	// Stderr receives progress, warnings and errors.
	Stderr io.Writer
	// Getenv reads the LMO_* environment variables; nil means os.Getenv.
	Getenv func(string) string
	// Now is the clock (today's date for plan and report); nil means time.Now.
	Now func() time.Time
	// Kube builds the Kubernetes reader used by --lmo and check; nil means the current kubeconfig context.
	Kube KubeFunc
	// Version reads the API server's version for check; nil means discovery through the kubeconfig.
	Version VersionFunc
	// Program is the name lmoctl was started as; "" means os.Args[0]. Run as kubectl-lmo (a kubectl
	// plugin), help and errors name it "kubectl lmo".
	Program string
	// Terminal says whether w is a terminal, where progress is a bar redrawn in place rather than
	// plain lines; nil means a check of w's file descriptor.
	Terminal func(w io.Writer) bool
}

func (e *Env) defaults() {
	if e.Stdout == nil {
		e.Stdout = os.Stdout
	}
	if e.Stderr == nil {
		e.Stderr = os.Stderr
	}
	if e.Getenv == nil {
		e.Getenv = os.Getenv
	}
	if e.Now == nil {
		e.Now = time.Now
	}
	if e.Kube == nil {
		e.Kube = kubeFromConfig
	}
	if e.Version == nil {
		e.Version = serverVersion
	}
	if e.Program == "" && len(os.Args) > 0 {
		e.Program = os.Args[0]
	}
	if e.Terminal == nil {
		e.Terminal = isTerminal
	}
}

// isTerminal reports whether w is a file open on a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

const rootLong = `lmoctl: bootstrap, review and report on Salesforce LMA licenses managed by lmo-operator.
It only reads the License Management Org (LMO); it never writes a record.

  lmoctl import --package 033... [--out DIR] [connection flags]
  lmoctl plan -f DIR [-o table|json|markdown] [connection flags]
  lmoctl report [--window 30d] [--package 033...] [-o table|json] [connection flags]
  lmoctl audit [--since 30d] [-f DIR] [--operator-user USERNAME] [-o table|json|csv] [connection flags]
  lmoctl doctor [-o table|json] [connection flags]       check the LMO side (read-only)
  lmoctl check [--pre] [-o table|json]                   check the cluster side (read-only)

Connection (every command but check): either flags/environment
  --instance-url URL (LMO_INSTANCE_URL) with --client-id (LMO_CLIENT_ID) and
  --client-secret (LMO_CLIENT_SECRET) for the client credentials flow, or --username (LMO_USERNAME)
  and --key-file (LMO_KEY_FILE) for the JWT bearer flow;
or --lmo NAME [--namespace NS]: a LicenseManagementOrg and its Secret from the current kubeconfig
context.

Installed on the PATH as kubectl-lmo, the same binary is a kubectl plugin: kubectl lmo plan -f DIR.`

// command is one lmoctl subcommand. bind registers its flags on fs and returns what runs once they
// are parsed: an exit code, or an error that lmoctl prints and exits 1 on.
type command struct {
	// name is the command's name; short is the line that lists it in lmoctl's help.
	name, short string
	// synopsis is its help text, ending in a "Usage: lmoctl NAME ..." paragraph; example shows it in use.
	synopsis, example string
	// formats are the values of its -o flag, offered by shell completion.
	formats []string
	bind    func(fs *pflag.FlagSet) func(ctx context.Context, env *Env) (int, error)
}

// commands are lmoctl's subcommands (help lists them in alphabetical order, with completion, help and
// version).
var commands = []command{
	{"import", "Write License and ManagedPackage YAML from the licenses of a package in the LMO", importSynopsis, importExample, nil, bindImport},
	{"plan", "Show what applying a directory of Licenses would change in the LMO", planSynopsis, planExample, []string{"table", "json", "markdown"}, bindPlan},
	{"report", "Summarise the install base, trials, renewals, churn and conversions", reportSynopsis, reportExample, []string{"table", "json"}, bindReport},
	{"audit", "List every change to a managed field in a window, and who made it", auditSynopsis, auditExample, []string{"table", "json", "csv"}, bindAudit},
	{"doctor", "Check that an LMO is ready for the operator (read-only)", doctorSynopsis, doctorExample, []string{"table", "json"}, bindDoctor},
	{"check", "Check the cluster side: Kubernetes version, CRDs, manager, LMOs (read-only)", checkSynopsis, checkExample, []string{"table", "json"}, bindCheck},
}

// Main runs lmoctl with args (without the program name) and returns the process exit code.
func Main(ctx context.Context, args []string, env Env) int {
	env.defaults()
	code := ExitOK
	root := newRootCommand(&env, &code)
	if completerName(env.Program) {
		// kubectl completes `kubectl lmo ...` by running kubectl_complete-lmo with the words typed after
		// "lmo" and reading cobra's completion protocol (kubernetes/kubernetes#105867).
		args = append([]string{cobra.ShellCompRequestCmd}, args...)
	}
	if len(args) == 0 {
		root.InitDefaultHelpCmd()
		root.InitDefaultCompletionCmd()
		root.SetOut(env.Stderr)
		root.SetErr(env.Stderr)
		_ = root.Help() // the help goes to stderr: lmoctl without a command is a usage error
		return ExitError
	}
	root.SetArgs(args)
	failed, err := root.ExecuteContextC(ctx)
	if err != nil {
		fmt.Fprintf(env.Stderr, "%s: %s\n", failed.CommandPath(), err)
		if isUsageError(err) {
			fmt.Fprintf(env.Stderr, "Run '%s --help' for usage.\n", failed.CommandPath())
		}
		return ExitError
	}
	return code
}

// usageError is a bad flag or argument, as opposed to a failure of the command itself.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func isUsageError(err error) bool {
	_, ok := err.(usageError)
	return ok || strings.HasPrefix(err.Error(), "unknown command ")
}

// programBase is the name the program runs as, without directory or .exe.
func programBase(program string) string {
	return strings.TrimSuffix(filepath.Base(program), ".exe")
}

// completerName says the program runs as kubectl_complete-lmo, the completer of the kubectl plugin.
func completerName(program string) bool {
	return programBase(program) == "kubectl_complete-lmo"
}

// displayName is how help and errors name the program: "kubectl lmo" when it runs as the kubectl
// plugin kubectl-lmo (or its completer), else "lmoctl".
func displayName(program string) string {
	if programBase(program) == "kubectl-lmo" || completerName(program) {
		return "kubectl lmo"
	}
	return "lmoctl"
}

// newRootCommand builds lmoctl's command tree; a subcommand that runs stores its exit code in code.
func newRootCommand(env *Env, code *int) *cobra.Command {
	name := displayName(env.Program)
	rename := func(s string) string {
		if name == "lmoctl" {
			return s
		}
		return strings.ReplaceAll(s, "lmoctl ", name+" ")
	}
	root := &cobra.Command{
		Use:           "lmoctl",
		Short:         "Bootstrap, review and report on Salesforce LMA licenses managed by lmo-operator",
		Long:          rename(rootLong),
		Version:       release,
		SilenceErrors: true,
		SilenceUsage:  true,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: name},
	}
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	root.SetVersionTemplate(versionText() + "\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	// Help says "Example:", as lmoctl's help did before it moved to cobra.
	root.SetUsageTemplate(strings.Replace(root.UsageTemplate(), "Examples:", "Example:", 1))
	for _, c := range commands {
		long, usage := splitSynopsis(c.synopsis)
		sub := &cobra.Command{
			Use:                   usage,
			Short:                 c.short,
			Long:                  rename(long),
			Example:               rename(c.example),
			Args:                  noArgs,
			DisableFlagsInUseLine: true,
		}
		run := c.bind(sub.Flags())
		if c.formats != nil {
			must(sub.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(c.formats, cobra.ShellCompDirectiveNoFileComp)))
		}
		sub.RunE = func(cmd *cobra.Command, _ []string) error {
			n, err := run(cmd.Context(), env)
			*code = n
			return err
		}
		root.AddCommand(sub)
	}
	root.AddCommand(&cobra.Command{
		Use:     "version",
		Short:   "Print lmoctl's version, the Go version it was built with and its source revision",
		Example: rename("  lmoctl version"),
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), versionText())
			return err
		},
	})
	return root
}

// noArgs refuses positional arguments: every lmoctl input is a flag.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", args[0])}
	}
	return nil
}

// splitSynopsis cuts a synopsis's closing "Usage: lmoctl NAME ..." paragraph off its text and returns
// the text and the usage line without the program name ("plan -f DIR ..."), which cobra shows under
// Usage with the name the program runs as.
func splitSynopsis(synopsis string) (text, usage string) {
	i := strings.LastIndex(synopsis, "\n\nUsage: lmoctl ")
	if i < 0 {
		panic("lmoctl: a command's synopsis lacks its Usage paragraph")
	}
	return synopsis[:i], strings.Join(strings.Fields(synopsis[i+len("\n\nUsage: lmoctl "):]), " ")
}

// outputFormat checks the -o flag.
func outputFormat(v string) (string, error) {
	switch strings.ToLower(v) {
	case "", "table":
		return "table", nil
	case "json":
		return "json", nil
	}
	return "", fmt.Errorf("-o %q: want table or json", v)
}
