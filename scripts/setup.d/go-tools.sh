#!/usr/bin/env bash
# Builds the Go load and fault tools into .tools/bin (project-local, gitignored) from the Go module
# proxy: k6 for the load scenarios and benchmarks, toxiproxy for fault-injection tests.
# Idempotent: a tool is rebuilt only when its binary for the pinned version is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

K6_VERSION=v1.8.1
TOXIPROXY_VERSION=v2.12.0
bin=$PWD/.tools/bin
mkdir -p "$bin"

# go install names the binary after the package directory; it is renamed to `out` where that
# name is too generic ("server"). A version stamp beside it makes a pin change rebuild.
install_tool() {
  local name=$1 pkg=$2 version=$3 out=$4
  if [ -x "$bin/$out" ] && [ "$(cat "$bin/.$out.version" 2>/dev/null)" = "$version" ]; then return 0; fi
  command -v go >/dev/null || { echo "setup: Go is needed to build $name" >&2; exit 1; }
  echo "setup: building $name $version with go install (a few minutes the first time)"
  GOBIN=$bin CGO_ENABLED=0 go install "$pkg@$version"
  [ "$(basename "$pkg")" = "$out" ] || mv -f "$bin/$(basename "$pkg")" "$bin/$out"
  echo "$version" >"$bin/.$out.version"
}

install_tool k6 go.k6.io/k6 "$K6_VERSION" k6
install_tool toxiproxy github.com/Shopify/toxiproxy/v2/cmd/server "$TOXIPROXY_VERSION" toxiproxy-server
