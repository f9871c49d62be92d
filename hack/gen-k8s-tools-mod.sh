#!/usr/bin/env bash
# Regenerates hack/k8s-tools/go.mod: a wrapper module that lets the Go toolchain build
# kube-apiserver, etcd and kubectl from the Go module proxy (k8s.io/kubernetes itself
# uses ./staging replace directives, which `go install pkg@version` cannot follow).
# Run only when bumping K8S_VERSION; the result is committed.
set -euo pipefail
K8S_VERSION=${K8S_VERSION:-v1.34.4}
STAGING_VERSION=v0.${K8S_VERSION#v1.}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=$ROOT/hack/k8s-tools
mkdir -p "$DIR"
modfile=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
{
	printf 'module github.com/gorocket/gorocket/hack/k8s-tools\n\ngo 1.24.0\n\ngodebug default=go1.24\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$K8S_VERSION"
	# every staging module, except the two sample modules the proxy refuses (not in the build graph)
	grep -oE '^[[:space:]]+k8s.io/[a-z0-9-]+ => ./staging' "$modfile" | awk '{print $1}' |
		grep -v '^k8s.io/sample-' | while read -r m; do printf '\t%s => %s %s\n' "$m" "$m" "$STAGING_VERSION"; done
	printf ')\n'
} >"$DIR/go.mod"
cat >"$DIR/tools.go" <<'GO'
//go:build tools

// Package tools makes `go mod tidy` keep the Kubernetes binaries the tests need.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
(cd "$DIR" && go mod tidy)
