#!/usr/bin/env bash
# Enforces the package dependency direction (docs/architecture.md). For every package
# under a guarded prefix, lists its transitive imports (`go list -deps`, tests excluded)
# and fails on any forbidden edge. Run by `make lint`.
set -euo pipefail
cd "$(dirname "$0")/.."
M=github.com/gorocket/gorocket

# rule: <package prefix>|<deps|imports>|<space-separated forbidden import prefixes>
# "deps" checks transitive imports (leaf packages must stay leaves); "imports" checks
# direct imports (controllers reach remoting only through client/admin, never directly).
rules=(
	"$M/remoting/protocol|deps|$M/remoting $M/broker $M/nameserver $M/storage $M/client $M/controllers $M/api $M/internal k8s.io sigs.k8s.io"
	"$M/storage|deps|$M/remoting $M/broker $M/nameserver $M/client $M/controllers $M/api $M/internal k8s.io sigs.k8s.io"
	"$M/internal/conf|deps|$M/remoting $M/broker $M/nameserver $M/storage $M/client $M/controllers $M/api k8s.io sigs.k8s.io"
	"$M/remoting|deps|$M/broker $M/nameserver $M/storage $M/client $M/controllers $M/api k8s.io sigs.k8s.io"
	"$M/nameserver|deps|$M/broker $M/storage $M/client $M/controllers $M/api k8s.io sigs.k8s.io"
	"$M/broker|deps|$M/nameserver $M/client $M/controllers $M/api k8s.io sigs.k8s.io"
	"$M/client|deps|$M/broker $M/nameserver $M/storage $M/controllers $M/api k8s.io sigs.k8s.io"
	"$M/controllers|imports|$M/broker $M/nameserver $M/storage $M/remoting"
	"$M/api|deps|$M/broker $M/nameserver $M/storage $M/remoting $M/client $M/controllers $M/internal"
	"$M/internal/operator|deps|$M/broker $M/nameserver $M/storage $M/remoting $M/client"
)

fail=0
pkgs=$(go list ./... 2>/dev/null)
for rule in "${rules[@]}"; do
	IFS='|' read -r prefix mode forbidden <<<"$rule"
	for pkg in $pkgs; do
		case "$pkg" in "$prefix" | "$prefix"/*) ;; *) continue ;; esac
		# remoting/protocol is guarded by its own, stricter rule.
		if [ "$prefix" = "$M/remoting" ] && [[ "$pkg" == "$M/remoting/protocol"* ]]; then continue; fi
		if [ "$mode" = deps ]; then
			deps=$(go list -deps "$pkg")
		else
			deps=$(go list -f '{{join .Imports "\n"}}' "$pkg")
		fi
		for f in $forbidden; do
			bad=$(printf '%s\n' "$deps" | grep -E "^${f//./\\.}(/|$)" | grep -v "^$pkg\$" || true)
			if [ -n "$bad" ]; then
				echo "check-deps: $pkg must not import $f (e.g. $(echo $bad | tr '\n' ' ' | cut -d' ' -f1-3))" >&2
				fail=1
			fi
		done
	done
done
if [ $fail -ne 0 ]; then
	echo "check-deps: forbidden import edges found (see docs/architecture.md)" >&2
	exit 1
fi
echo "check-deps: ok"
