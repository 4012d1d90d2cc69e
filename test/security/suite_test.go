package security_test

import (
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The security suite reviews what the operator is installed with: the RBAC it asks for
// (config/rbac) and the pod security of the manager Deployment (config/default), the way a cluster
// administrator would before granting either.

// repoRoot is the module root, relative to this package's directory, where go test runs it.
var repoRoot = filepath.Join("..", "..")

func TestSecurity(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Security suite")
}
