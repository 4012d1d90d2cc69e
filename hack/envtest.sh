#!/usr/bin/env bash
# Builds the envtest control plane (kube-apiserver and etcd) from the Go module proxy and prints the
# directory to use as KUBEBUILDER_ASSETS. Prebuilt binary downloads (setup-envtest) are not reachable
# from the machines this project is built on, so both binaries are compiled from source once and cached
# outside the clone, keyed by version, where every later run and CI reuse them.
#
# Usage: hack/envtest.sh            # build if missing, print the assets directory
#        K8S_VERSION=1.37.2 hack/envtest.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# The control plane matches the k8s.io/api version in go.mod: k8s.io/api v0.37.2 -> Kubernetes 1.37.2.
if [ -z "${K8S_VERSION:-}" ]; then
  api=$(cd "$root" && go list -m -f '{{.Version}}' k8s.io/api)
  K8S_VERSION=1.${api#v0.}
fi
cache=${LMO_ENVTEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lmo-operator/envtest}
dir=$cache/$K8S_VERSION
if [ -x "$dir/kube-apiserver" ] && [ -x "$dir/etcd" ]; then
  echo "$dir"
  exit 0
fi

mkdir -p "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log() { echo "envtest: $*" >&2; }

# kube-apiserver: a throwaway module that requires k8s.io/kubernetes and replaces every staging module
# (k8s.io/kubernetes' own go.mod points them at ./staging) with the matching v0.x release.
gomod=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" |
  sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
staging_version=v0.${K8S_VERSION#1.}
etcd_version=$(sed -n 's#^[[:space:]]*go.etcd.io/etcd/server/v3 \(v[^ ]*\).*#\1#p' "$gomod" | head -n 1)

if [ ! -x "$dir/kube-apiserver" ]; then
  log "building kube-apiserver $K8S_VERSION from the module proxy (about 5 minutes on 2 cores)"
  mkdir -p "$work/apiserver"
  (
    cd "$work/apiserver"
    go mod init lmo-operator.dev/envtest-apiserver >/dev/null 2>&1
    args=()
    while read -r mod; do
      args+=("-replace=$mod=$mod@$staging_version")
    done < <(sed -n 's#^[[:space:]]*\(k8s.io/[^ ]*\) => ./staging/.*#\1#p' "$gomod")
    go mod edit -require="k8s.io/kubernetes@v$K8S_VERSION" "${args[@]}"
    cat > tools.go <<'GO'
//go:build tools

package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
GO
    GOFLAGS=-mod=mod go mod tidy >&2
    CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags=-s -o "$dir/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
    mv "$dir/kube-apiserver.tmp" "$dir/kube-apiserver"
  )
fi

if [ ! -x "$dir/etcd" ]; then
  log "building etcd $etcd_version from the module proxy"
  mkdir -p "$work/etcd"
  (
    cd "$work/etcd"
    go mod init lmo-operator.dev/envtest-etcd >/dev/null 2>&1
    cat > main.go <<'GO'
// Command etcd is etcd's server entry point, built here because no prebuilt binary can be downloaded.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
    go mod edit -require="go.etcd.io/etcd/server/v3@$etcd_version"
    GOFLAGS=-mod=mod go mod tidy >&2
    CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags=-s -o "$dir/etcd.tmp" .
    mv "$dir/etcd.tmp" "$dir/etcd"
  )
fi
echo "$dir"
