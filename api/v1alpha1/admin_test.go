package v1alpha1_test

import "sigs.k8s.io/controller-runtime/pkg/envtest"

// envtestAdmin is a user in the system:masters group, for running kubectl against the test API server.
func envtestAdmin() envtest.User {
	return envtest.User{Name: "admin", Groups: []string{"system:masters"}}
}
