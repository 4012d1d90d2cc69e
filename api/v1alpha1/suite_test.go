package v1alpha1_test

import (
	"context"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/lmo-operator/lmo-operator/internal/testenv"
)

// The admission suite installs the generated CRDs into a real kube-apiserver and proves that the CEL
// and OpenAPI rules refuse bad specs with messages that name the field.

var (
	controlPlane *testenv.ControlPlane
	clientScheme = testenv.Scheme()
	k8sClient    client.Client
	ctx          context.Context
	cancel       context.CancelFunc
)

func TestAPI(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "API admission suite")
}

var _ = BeforeSuite(func() {
	ctx, cancel = context.WithCancel(context.Background())
	DeferCleanup(func() { cancel() })
	controlPlane = testenv.StartControlPlane(GinkgoT(), true)
	k8sClient = testenv.Client(GinkgoT(), controlPlane.Config, clientScheme)
})
