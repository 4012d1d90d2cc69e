# lmo-operator: `make dev` runs the operator locally against lmosim; `make test` runs every test suite.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

GO ?= go
CONTROLLER_GEN := $(GO) tool controller-gen
KUBECTL ?= kubectl
IMG ?= ghcr.io/lmo-operator/lmo-operator:dev

# The envtest control plane (kube-apiserver, etcd) is compiled once from the Go module proxy and cached
# outside the clone; hack/envtest.sh prints its directory.
ENVTEST_ASSETS = $(shell hack/envtest.sh)
# A loaded 2-core machine can take longer than envtest's default 20s to start kube-apiserver.
export KUBEBUILDER_CONTROLPLANE_START_TIMEOUT ?= 2m
export KUBEBUILDER_CONTROLPLANE_STOP_TIMEOUT ?= 1m

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: ## Generate the CRDs and the manager's ClusterRole from the markers in api/ and controllers/; copy the CRDs, the admission policies and the dashboard into the chart.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./api/...;./controllers/..." output:crd:artifacts:config=config/crd/bases
	cp config/crd/bases/*.yaml charts/lmo-operator/crds/
	cp config/admission/salesforce_hosts.yaml config/admission/approvers.yaml charts/lmo-operator/files/admission/
	cp config/prometheus/grafana-dashboard.json charts/lmo-operator/files/

.PHONY: generate
generate: ## Generate the DeepCopy methods of the API types.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: verify-generated
verify-generated: ## Fail when the committed generated files differ from what the markers produce.
	hack/verify-generated.sh

.PHONY: fmt
fmt: ## gofmt the tree.
	$(GO) fmt ./...

.PHONY: vet
vet: ## go vet the tree.
	$(GO) vet ./...

.PHONY: lint
lint: ## golangci-lint, pinned in go.mod, with .golangci.yml: vet, staticcheck, errcheck, unused, gofmt, goimports…
	$(GO) tool golangci-lint run ./...

.PHONY: envtest
envtest: ## Build (once) and print the cached envtest control plane.
	@hack/envtest.sh

##@ Test

.PHONY: test
test: verify-generated vet lint test-unit test-sim test-envtest test-e2e test-faults ## Every test suite: generated files and go.mod, lint, unit, simulation, envtest, end to end, faults.

.PHONY: test-unit
test-unit: ## Unit and contract tests (no control plane).
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v -e /controllers -e /api/ -e /test/)

# The engine's seeded simulation (internal/engine/simulation_test.go). A failing seed prints the
# command that replays it.
SIM_STEPS ?= 120
SEEDS ?= 100000
SIM_FROM ?= 1

.PHONY: test-sim
test-sim: ## The engine's deterministic simulation: 2,000 schedules of 120 steps against lmosim, without -race (~1 min).
	$(GO) test -count=1 -timeout 20m -v -run '^TestSimulation$$' ./internal/engine -args -sim.seeds=2000 -sim.steps=$(SIM_STEPS)

.PHONY: simulate
simulate: ## Soak the simulation: SEEDS schedules from seed SIM_FROM (make simulate SEEDS=100000).
	$(GO) test -count=1 -timeout 0 -v -run '^TestSimulation$$' ./internal/engine -args -sim.seeds=$(SEEDS) -sim.from=$(SIM_FROM) -sim.steps=$(SIM_STEPS)

.PHONY: test-envtest
test-envtest: ## Controller suites against a real kube-apiserver and etcd.
	HELM="$$(hack/helm.sh)" KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" $(GO) test -count=1 -timeout 20m ./controllers/... ./api/... \
		./test/security/... ./test/gitops/... ./test/helm/... ./test/robustness/...

.PHONY: test-e2e
test-e2e: build ## End to end: built binaries, control plane, kubectl, lmosim.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" $(GO) test -count=1 -timeout 15m ./test/e2e/...

.PHONY: test-faults
test-faults: build ## Fault suite: 500 Licenses through lmosim faults, restarts and a killed manager (~6 min).
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" $(GO) test -count=1 -timeout 20m ./test/faults/...

.PHONY: fault-results
fault-results: build ## Run the fault suite and write its figures to test/faults/RESULTS.md.
	LMO_FAULTS_RESULTS=$(CURDIR)/test/faults/RESULTS.md KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" $(GO) test -count=1 -timeout 20m ./test/faults/...

##@ Build

# LMOCTL_VERSION is what `lmoctl version` prints (the Go toolchain adds the git revision itself).
LMOCTL_VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: build
build: ## Build the manager, lmosim and lmoctl into bin/, with bin/kubectl-lmo and its completer (lmoctl as a kubectl plugin).
	$(GO) build -o bin/manager ./cmd/manager
	$(GO) build -o bin/lmosim ./cmd/lmosim
	$(GO) build -ldflags "-X github.com/lmo-operator/lmo-operator/internal/lmoctl.release=$(LMOCTL_VERSION)" -o bin/lmoctl ./cmd/lmoctl
	ln -sf lmoctl bin/kubectl-lmo
	ln -sf lmoctl bin/kubectl_complete-lmo

.PHONY: dev
dev: build ## Run the operator locally: control plane, lmosim, CRDs, samples and the manager (Ctrl-C stops all).
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" $(GO) run ./hack/dev

.PHONY: run
run: ## Run the manager against the current kubeconfig.
	$(GO) run ./cmd/manager

.PHONY: bench
bench: ## Fleet-scale benchmark, N=1,000, 10,000 and 50,000 (BENCH_LARGE=1 adds 100,000); writes BENCHMARKS.md.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" $(GO) run ./hack/bench

.PHONY: docker-build
docker-build: ## Build the manager image (needs a Docker engine).
	docker build -t $(IMG) .

##@ Deployment

.PHONY: install
install: manifests ## Install the CRDs into the cluster of the current kubeconfig.
	$(KUBECTL) apply --server-side -k config/crd

.PHONY: deploy
deploy: manifests ## Deploy the operator and its admission policies into the cluster of the current kubeconfig.
	$(KUBECTL) apply --server-side -k config/default
	$(KUBECTL) apply --server-side -k config/admission
