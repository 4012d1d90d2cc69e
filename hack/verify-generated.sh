#!/usr/bin/env bash
# Regenerates the CRDs, the ClusterRole and the DeepCopy code into a scratch directory and fails when
# they differ from the committed files: generated files are regenerated, never edited by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gen() { go tool controller-gen "$@"; }
gen rbac:roleName=manager-role paths="./api/...;./controllers/..." output:rbac:dir="$tmp/rbac"
gen crd paths="./api/..." output:crd:dir="$tmp/crd"
gen object:headerFile=hack/boilerplate.go.txt paths="./api/..." output:object:dir="$tmp/object"
status=0
diff -u config/rbac/role.yaml "$tmp/rbac/role.yaml" || status=1
for f in "$tmp"/crd/*.yaml; do
  diff -u "config/crd/bases/$(basename "$f")" "$f" || status=1
done
[ "$(ls "$tmp"/crd | wc -l)" = "$(ls config/crd/bases/*.yaml | wc -l)" ] || { echo "config/crd/bases holds a CRD no type produces" >&2; status=1; }
diff -u api/v1alpha1/zz_generated.deepcopy.go "$tmp/object/zz_generated.deepcopy.go" || status=1
diff -u config/prometheus/grafana-dashboard.json charts/lmo-operator/files/grafana-dashboard.json || status=1
# The chart renders the admission policies of config/admission from copies.
for f in salesforce_hosts.yaml approvers.yaml; do
  diff -u "config/admission/$f" "charts/lmo-operator/files/admission/$f" || status=1
done
for f in config/crd/bases/*.yaml; do
  diff -u "$f" "charts/lmo-operator/crds/$(basename "$f")" || status=1
done
# go.mod and go.sum are what `go mod tidy` leaves: no missing or unused requirement, none marked
# indirect that the code imports.
go mod tidy -diff || { echo "go.mod or go.sum is not tidy: run 'go mod tidy' and commit the result." >&2; status=1; }
if [ $status -ne 0 ]; then
  echo "Generated files are stale: run 'make manifests generate' and commit the result." >&2
fi
exit $status
