// Command bench measures the operator at fleet scale, the way a user runs it: the cached envtest
// control plane, lmosim in this process (on 127.0.0.1), and the manager as a separate process so
// that its peak RSS can be read from /proc. For each N it
//
//  1. seeds lmosim with N Active licenses of package 033000000000001AAA (explicit subscriber ids and
//     one LMO-to-Subscriber Integer feature parameter, acme__MaxProjects), reads them back through
//     the REST API as the client lmo-admin, and creates N License resources of which 30% differ
//     from the LMO (10% seats, 10% expiration, 10% acme__MaxProjects);
//  2. measures the wall time from the first create until every License is Ready, the Salesforce API
//     calls by kind (/__sim/stats, reset before the manager starts) and the manager's peak RSS;
//  3. computes the floor of API calls and calls/floor;
//  4. counts calls over 10 pollIntervals with nothing changing;
//  5. edits 100 records through the REST API as lmo-admin and measures how long until each drift is
//     in the License's status;
//  6. changes the spec of 50 settled Licenses one after the other, then of 1,000 at once, and
//     measures how long until lmosim's record has the value (merge to LMO);
//  7. stops the manager and times a trivial client writing one status per License: with the
//     creates, the Kubernetes floor that cold convergence is compared with;
//  8. prints a table and writes BENCHMARKS.md.
//
// Usage:
//
//	go run ./hack/bench [-n 1000,10000] [-large] [-cold-only] [-merge=false] [-manager bin/manager] [-out BENCHMARKS.md]
//
// BENCH_LARGE=1 (or -large) adds N=50,000. KUBEBUILDER_ASSETS defaults to what hack/envtest.sh prints.
// Ctrl-C stops the manager, lmosim and the control plane.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/resource"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

type options struct {
	memoryLimit  int64 // the manager's container memory limit in bytes (LMO_MEMORY_LIMIT); 0 for none
	sizes        []int
	manager      string // prebuilt manager binary; empty builds ./cmd/manager
	out          string
	pollInterval time.Duration
	readyTimeout time.Duration
	edits        int
	keep         bool
	coldOnly     bool // stop each N after cold convergence (for experiments; the report is then partial)
	merge        bool // measure merge-to-LMO latency once the Licenses are settled
	command      string
	managerSrc   string
	loadStart    string // /proc/loadavg when the bench started
}

// loadavg is the 1, 5 and 15 minute load averages from /proc/loadavg.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func main() {
	var (
		sizes   = flag.String("n", "1000,10000", "Comma-separated fleet sizes.")
		large   = flag.Bool("large", os.Getenv("BENCH_LARGE") == "1", "Add N=50,000 (also BENCH_LARGE=1).")
		manager = flag.String("manager", "", "A prebuilt manager binary; empty builds ./cmd/manager into a temporary directory.")
		out     = flag.String("out", "BENCHMARKS.md", "Where to write the report; empty writes none.")
		poll    = flag.Duration("poll-interval", 30*time.Second, "The LicenseManagementOrg's pollInterval (each N runs 10 of them in the steady phase).")
		ready   = flag.Duration("ready-timeout", 10*time.Minute, "The longest to wait for every License to be Ready.")
		edits   = flag.Int("edits", 100, "Records edited through the REST API in the drift phase.")
		keep    = flag.Bool("keep", false, "Keep the work directory (manager logs, kubeconfig).")
		cold    = flag.Bool("cold-only", false, "Measure cold convergence only, skipping the steady and drift phases (for experiments); the merge phase then runs right after cold convergence, unless -merge=false.")
		memLim  = flag.String("memory-limit", "", "Run the manager as in a container with this memory limit (a quantity, e.g. 512Mi): it gets LMO_MEMORY_LIMIT, as the Deployment sets it from limits.memory, and so a Go soft memory limit of 90% of it. Empty: no limit.")
		merge   = flag.Bool("merge", true, fmt.Sprintf("Measure merge to LMO once the Licenses are settled (after the drift phase, or after cold convergence with -cold-only): %d single spec changes one after the other, then %d at once.", mergeSingles, mergeBulk))
	)
	flag.Parse()
	ctrllog.SetLogger(logr.Discard()) // envtest logs nothing worth showing here
	var memoryLimit int64
	if *memLim != "" {
		q, err := resource.ParseQuantity(*memLim)
		if err != nil || q.Value() <= 0 {
			fmt.Fprintf(os.Stderr, "bench: -memory-limit %q: want a quantity such as 512Mi\n", *memLim)
			os.Exit(2)
		}
		memoryLimit = q.Value()
	}
	o := options{memoryLimit: memoryLimit, out: *out, pollInterval: *poll, readyTimeout: *ready, edits: *edits, keep: *keep, coldOnly: *cold, merge: *merge, manager: *manager,
		loadStart: loadavg()}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 10 {
			fmt.Fprintf(os.Stderr, "bench: -n %q: each size must be a number ≥ 10\n", s)
			os.Exit(2)
		}
		o.sizes = append(o.sizes, n)
	}
	if *large && !contains(o.sizes, 50000) {
		o.sizes = append(o.sizes, 50000)
	}
	o.command = "go run ./hack/bench"
	if len(os.Args) > 1 {
		o.command += " " + strings.Join(os.Args[1:], " ")
	}
	if *large && os.Getenv("BENCH_LARGE") == "1" {
		o.command = "BENCH_LARGE=1 " + o.command
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func run(o options) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		out, err := exec.CommandContext(ctx, "hack/envtest.sh").Output()
		if err != nil {
			return fmt.Errorf("hack/envtest.sh (run from the repository root): %w", err)
		}
		_ = os.Setenv("KUBEBUILDER_ASSETS", strings.TrimSpace(string(out)))
	}
	work, err := os.MkdirTemp("", "lmo-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		logf("work directory %s is kept", work)
	} else {
		defer func() {
			if err := os.RemoveAll(work); err != nil {
				logf("removing the work directory: %v", err)
			}
		}()
	}
	o.managerSrc = gitDescribe(ctx)
	if o.manager == "" {
		o.manager = filepath.Join(work, "manager")
		logf("building the manager (go build -o %s ./cmd/manager)", o.manager)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", o.manager, "./cmd/manager")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("building the manager: %w", err)
		}
		o.managerSrc = "./cmd/manager of the working tree at " + o.managerSrc
	} else {
		o.managerSrc = o.manager + " (prebuilt; the bench ran in a tree at " + o.managerSrc + ")"
	}

	var results []*result
	var runErr error
	for _, n := range o.sizes {
		dir := filepath.Join(work, fmt.Sprintf("n%d", n))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		logf("=== N=%d ===", n)
		r, err := runOne(ctx, o, n, dir)
		if r != nil {
			results = append(results, r)
			printTable(os.Stdout, o, results)
		}
		if err != nil {
			runErr = fmt.Errorf("at N=%d: %w", n, err)
			break
		}
	}
	if len(results) > 0 && o.out != "" {
		if err := writeReport(o, results, runErr); err != nil {
			return err
		}
		logf("wrote %s", o.out)
	}
	if runErr == nil && ctx.Err() != nil {
		runErr = errors.New("interrupted")
	}
	return runErr
}

func gitDescribe(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, "git", "describe", "--always", "--dirty", "--abbrev=12").Output()
	if err != nil {
		return "unknown commit"
	}
	return "commit " + strings.TrimSpace(string(out))
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// machine describes the host: cores, memory, CPU model.
func machine() string {
	mem := "unknown"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "MemTotal:") {
				f := strings.Fields(line)
				if len(f) >= 2 {
					if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
						mem = fmt.Sprintf("%.1f GiB", float64(kb)/1024/1024)
					}
				}
			}
		}
	}
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "model name") {
				if i := strings.Index(line, ":"); i > 0 {
					model = strings.TrimSpace(line[i+1:])
					break
				}
			}
		}
	}
	s := fmt.Sprintf("%d cores (runtime.NumCPU), %s memory (/proc/meminfo MemTotal), %s/%s, %s", runtime.NumCPU(), mem, runtime.GOOS, runtime.GOARCH, runtime.Version())
	if model != "" {
		s += ", " + model
	}
	return s
}
