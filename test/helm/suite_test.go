package helm_test

import (
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The helm suite checks that charts/lmo-operator installs what config/default installs: the same CRDs,
// the same RBAC, a manager Deployment as locked down, and that what it renders is admitted by a real API
// server in a namespace that enforces the restricted pod-security profile.

var (
	// repoRoot is the module root, relative to this package's directory, where go test runs it.
	repoRoot = filepath.Join("..", "..")
	chartDir = filepath.Join(repoRoot, "charts", "lmo-operator")
)

func TestHelm(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Helm chart suite")
}
