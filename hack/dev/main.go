// Command dev runs the operator locally for `make dev`: a control plane (the cached envtest
// kube-apiserver and etcd), lmosim seeded from config/samples/lmosim-seed.yaml, the CRDs, a Secret and
// the samples, and the manager in the foreground. Ctrl-C stops everything it started.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/lmo-operator/lmo-operator/internal/lmosim"
)

func main() {
	dir := flag.String("dir", ".dev", "Directory for the kubeconfig and logs.")
	simAddr := flag.String("lmosim-listen", "127.0.0.1:8090", "Address lmosim listens on (the sample LicenseManagementOrg points at it).")
	seedPath := flag.String("seed", "config/samples/lmosim-seed.yaml", "lmosim seed file.")
	manager := flag.String("manager", "bin/manager", "The manager binary.")
	flag.Parse()
	if err := run(*dir, *simAddr, *seedPath, *manager); err != nil {
		fmt.Fprintln(os.Stderr, "make dev:", err)
		os.Exit(1)
	}
}

func run(dir, simAddr, seedPath, manager string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}

	if err := lmosim.CheckListen(simAddr); err != nil {
		return fmt.Errorf("--lmosim-listen %w", err)
	}
	seed, err := lmosim.LoadSeed(seedPath)
	if err != nil {
		return err
	}
	sim, err := lmosim.New(seed, lmosim.Options{})
	if err != nil {
		return err
	}
	simURL, err := sim.Start(simAddr)
	if err != nil {
		return fmt.Errorf("starting lmosim on %s (is another make dev running?): %w", simAddr, err)
	}
	defer func() { _ = sim.Close() }() // shutting down the stand-in: a failure there changes nothing for the user
	if err := lmosim.CheckBound(simURL); err != nil {
		return fmt.Errorf("--lmosim-listen %s: %w", simAddr, err)
	}

	env := &envtest.Environment{CRDDirectoryPaths: []string{filepath.Join("config", "crd", "bases")}, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	if err != nil {
		return fmt.Errorf("starting the control plane (KUBEBUILDER_ASSETS=%s): %w", os.Getenv("KUBEBUILDER_ASSETS"), err)
	}
	defer func() { _ = env.Stop() }()
	user, err := env.AddUser(envtest.User{Name: "dev-admin", Groups: []string{"system:masters"}}, cfg)
	if err != nil {
		return err
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return err
	}
	kcPath, _ := filepath.Abs(filepath.Join(dir, "kubeconfig"))
	if err := os.WriteFile(kcPath, kubeconfig, 0o600); err != nil {
		return err
	}

	kubectl := func(args ...string) error {
		cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", kcPath}, args...)...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		return cmd.Run()
	}
	if err := kubectl("create", "secret", "generic", "acme-lmo-client", "--namespace", "default",
		"--from-literal=client-id=lmo-operator", "--from-literal=client-secret=dev-secret-change-me"); err != nil {
		return err
	}
	if err := kubectl("apply", "--namespace", "default", "-k", "config/samples"); err != nil {
		return err
	}

	mgr := exec.CommandContext(ctx, manager, "--kubeconfig", kcPath, "--metrics-bind-address", "127.0.0.1:8443",
		"--health-probe-bind-address", "127.0.0.1:8081", "--allow-insecure-loopback-http")
	mgr.Stdout, mgr.Stderr = os.Stdout, os.Stderr
	mgr.Cancel = func() error { return mgr.Process.Signal(os.Interrupt) }
	mgr.WaitDelay = 10 * time.Second
	if err := mgr.Start(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, `
lmo-operator is running against a local control plane and lmosim.

  export KUBECONFIG=%s
  lmosim: %s   (seed %s; admin API under %s/__sim/)

Try:
  kubectl get lmo,mpkg,lic
  kubectl describe license globex
  kubectl annotate license initech licensing.lmo-operator.dev/paused=true

Ctrl-C stops the manager, lmosim and the control plane.

`, kcPath, simURL, seedPath, simURL)
	err = mgr.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("the manager stopped: %w", err)
}
