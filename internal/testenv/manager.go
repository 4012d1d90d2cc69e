package testenv

import (
	"context"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// Setup registers the operator's controllers with a manager: controllers.SetupWithManager with the
// suite's options.
type Setup func(context.Context, ctrl.Manager) error

// StartManager starts a manager in this process, with its metrics server off unless opts bind one,
// and the controllers registered by setup; it runs until ctx ends. The channel receives what Start
// returned.
func StartManager(ctx context.Context, cfg *rest.Config, opts ctrl.Options, setup Setup) (<-chan error, error) {
	if opts.Metrics.BindAddress == "" {
		opts.Metrics = metricsserver.Options{BindAddress: "0"}
	}
	mgr, err := ctrl.NewManager(cfg, opts)
	if err != nil {
		return nil, err
	}
	if err := setup(ctx, mgr); err != nil {
		return nil, err
	}
	exit := make(chan error, 1)
	go func() { exit <- mgr.Start(ctx) }()
	return exit, nil
}

// RunManager starts a manager as StartManager does, inside a Ginkgo suite: it fails the suite when the
// manager exits with an error, and the Ginkgo cleanup of the caller (the end of the spec, or of the
// suite from BeforeSuite) stops it and waits for it to exit.
func RunManager(ctx context.Context, cfg *rest.Config, opts ctrl.Options, setup Setup) {
	ginkgo.GinkgoHelper()
	ctx, stop := context.WithCancel(ctx)
	exit, err := StartManager(ctx, cfg, opts, setup)
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	done := make(chan struct{})
	go func() {
		defer ginkgo.GinkgoRecover()
		defer close(done)
		gomega.Expect(<-exit).To(gomega.Succeed())
	}()
	ginkgo.DeferCleanup(func() {
		stop()
		<-done
	})
}
