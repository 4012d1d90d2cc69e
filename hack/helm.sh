#!/usr/bin/env bash
# Builds the helm CLI from the Go module proxy and prints the path of the binary. Prebuilt helm downloads
# (get.helm.sh, GitHub releases) are not reachable from the machines this project is built on, so helm is
# compiled from source once, with its own go.mod (not the project's), and cached outside the clone, keyed
# by version, where every later run and CI reuse it. test/helm renders and lints the chart with it.
#
# Usage: hack/helm.sh                      # build if missing, print the path of helm
#        HELM_VERSION=v4.3.1 hack/helm.sh
set -euo pipefail

HELM_VERSION=${HELM_VERSION:-v4.3.1}
major=${HELM_VERSION%%.*}
cache=${LMO_HELM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lmo-operator/helm}
dir=$cache/$HELM_VERSION
if [ -x "$dir/helm" ]; then
  echo "$dir/helm"
  exit 0
fi

mkdir -p "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "helm: building helm $HELM_VERSION from the module proxy (a few minutes cold)" >&2
# `go install pkg@version` builds with helm's own go.mod, outside any module: the project's dependency
# versions (k8s.io/* in go.mod) are neither used nor changed.
(
  cd "$work"
  GOFLAGS= GOBIN="$work/bin" CGO_ENABLED=0 go install -trimpath \
    -ldflags="-s -w -X helm.sh/helm/$major/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/$major/cmd/helm@$HELM_VERSION" >&2
)
mv "$work/bin/helm" "$dir/helm.tmp"
mv "$dir/helm.tmp" "$dir/helm"
echo "$dir/helm"
