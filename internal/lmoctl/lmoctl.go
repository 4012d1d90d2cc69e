// Package lmoctl is the command-line companion of lmo-operator: `import` writes License and
// ManagedPackage YAML from an existing LMO, `plan` shows what applying a directory of Licenses would
// change in the LMO, `report` summarises the install base, trials, churn and conversions, and
// `audit` lists every change to a managed field and who made it, and `doctor` checks that an LMO
// is ready for the operator. It
// only reads the LMO: no command ever writes a record.
//
// Main is the whole program; cmd/lmoctl calls it with the process's arguments and streams. Tests
// call it with a fixed clock and an lmosim URL.
package lmoctl

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
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
}

const mainUsage = `lmoctl: bootstrap, review and report on Salesforce LMA licenses managed by lmo-operator.
It only reads the License Management Org (LMO); it never writes a record.

Usage:
  lmoctl import --package 033... [--out DIR] [connection flags]
  lmoctl plan -f DIR [-o table|json|markdown] [connection flags]
  lmoctl report [--window 30d] [--package 033...] [-o table|json] [connection flags]
  lmoctl audit [--since 30d] [-f DIR] [--operator-user USERNAME] [-o table|json|csv] [connection flags]
  lmoctl doctor [-o table|json] [connection flags]       check the LMO side (read-only)
  lmoctl check [--pre] [-o table|json]                   check the cluster side (read-only)
  lmoctl doctor [-o table|json] [connection flags]

Connection (every command): either flags/environment
  --instance-url URL (LMO_INSTANCE_URL) with --client-id (LMO_CLIENT_ID) and
  --client-secret (LMO_CLIENT_SECRET) for the client credentials flow, or --username (LMO_USERNAME)
  and --key-file (LMO_KEY_FILE) for the JWT bearer flow;
or --lmo NAME [--namespace NS]: a LicenseManagementOrg and its Secret from the current kubeconfig
context.

Run "lmoctl COMMAND --help" for a command's flags and an example.
`

// Main runs lmoctl with args (without the program name) and returns the process exit code.
func Main(ctx context.Context, args []string, env Env) int {
	env.defaults()
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, mainUsage)
		return ExitError
	}
	var run func(context.Context, []string, *Env) (int, error)
	switch args[0] {
	case "import":
		run = runImport
	case "plan":
		run = runPlan
	case "report":
		run = runReport
	case "audit":
		run = runAudit
	case "doctor":
		run = runDoctor
	case "check":
		run = runCheck
	case "help", "-h", "--help", "-help":
		fmt.Fprint(env.Stdout, mainUsage)
		return ExitOK
	default:
		fmt.Fprintf(env.Stderr, "lmoctl: unknown command %q\n\n%s", args[0], mainUsage)
		return ExitError
	}
	code, err := run(ctx, args[1:], &env)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.Is(err, errUsage):
		return ExitError
	case err != nil:
		fmt.Fprintf(env.Stderr, "lmoctl %s: %s\n", args[0], err)
		return ExitError
	}
	return code
}

// errUsage is a flag error the flag package has already printed.
var errUsage = errors.New("usage")

// newFlagSet returns a flag set that prints its usage (with an example) to stderr on error and to
// stdout for --help.
func newFlagSet(env *Env, name, synopsis, example string) *flag.FlagSet {
	fs := flag.NewFlagSet("lmoctl "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "%s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
		fmt.Fprintf(out, "\nExample:\n%s\n", example)
	}
	return fs
}

// parseFlags parses args, sending --help to stdout.
func parseFlags(fs *flag.FlagSet, env *Env, args []string) error {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			fs.SetOutput(env.Stdout)
			fs.Usage()
			return flag.ErrHelp
		}
		if a == "--" {
			break
		}
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return errUsage
	}
	return nil
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
