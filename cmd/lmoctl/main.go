// Command lmoctl bootstraps, reviews and reports on the Salesforce LMA licenses lmo-operator
// manages: `lmoctl import`, `lmoctl plan`, `lmoctl report` and the rest. Installed as kubectl-lmo it is
// also the kubectl plugin `kubectl lmo`. See internal/lmoctl.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/lmo-operator/lmo-operator/internal/lmoctl"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := lmoctl.Main(ctx, os.Args[1:], lmoctl.Env{})
	stop()
	os.Exit(code)
}
