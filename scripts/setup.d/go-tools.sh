#!/usr/bin/env bash
# Builds the Go load and fault tools into .tools/bin (project-local, gitignored) from the Go module
# proxy: k6 for the load scenarios, the k6 smoke test and the benchmarks, toxiproxy for fault
# injection. Idempotent: a tool is rebuilt only when its binary for the pinned version is missing.
#
# Needs no Go on the machine: when no Go >= $GO_MIN is on PATH, the pinned Go toolchain is fetched
# from the Go module proxy (the golang.org/toolchain module that GOTOOLCHAIN downloads), checked
# against its go.sum hash pinned here, and unpacked into .tools/go.
#
# Neither `npm start` nor the API need these tools, so a failure here (no proxy reachable) does not
# fail setup: it is reported, and the k6 smoke test and the benchmarks say what is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

K6_VERSION=v1.8.1
TOXIPROXY_VERSION=v2.12.0
# k6 v1.8.1's go.mod asks for go 1.25.0. The hashes are the toolchain modules' go.sum lines
# (https://proxy.golang.org/sumdb/sum.golang.org/lookup/golang.org/toolchain@v0.0.1-go1.25.14.linux-amd64).
GO_MIN=go1.25.0
GO_TOOLCHAIN=go1.25.14
declare -A GO_TOOLCHAIN_H1=(
  [amd64]="h1:XriDgll2yv4W2YeUo2X/WuUuy+iGJkXGH0CQloMBEXo="
  [arm64]="h1:tccCYNAEolyjUyQVNxD/wJuly2Sx85m+OUkzGIhO1oY="
)
bin=$PWD/.tools/bin
goroot=$PWD/.tools/go

# True when Go version $1 (e.g. go1.26.8) is at least $2.
version_at_least() {
  [ "$(printf '%s\n%s\n' "$2" "$1" | sed 's/^go//' | sort -V | head -n 1)" = "${2#go}" ]
}

# Downloads golang.org/toolchain@v0.0.1-$GO_TOOLCHAIN.linux-<arch> from the first proxy in GOPROXY,
# verifies its h1 hash (the go.sum dirhash: SHA-256 over the sorted "sha256  name" lines of the zip)
# and unpacks it into .tools/go with the execute bits Go itself sets after such a download.
fetch_toolchain() {
  local arch
  case "$(uname -m)" in
    x86_64) arch=amd64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "setup: no pinned Go toolchain for $(uname -m); install Go >= $GO_MIN" >&2; return 1 ;;
  esac
  local proxy=${GOPROXY:-https://proxy.golang.org}
  proxy=${proxy%%[,|]*}
  [ "$proxy" != direct ] && [ "$proxy" != off ] || proxy=https://proxy.golang.org
  echo "setup: fetching the Go toolchain $GO_TOOLCHAIN (linux-$arch) from $proxy"
  python3 - "$proxy" "v0.0.1-$GO_TOOLCHAIN.linux-$arch" "${GO_TOOLCHAIN_H1[$arch]}" "$goroot" <<'PY'
import base64, hashlib, io, os, shutil, stat, sys, urllib.request, zipfile

proxy, version, want, dest = sys.argv[1:]
url = f"{proxy.rstrip('/')}/golang.org/toolchain/@v/{version}.zip"
try:
    with urllib.request.urlopen(url, timeout=300) as response:
        archive = zipfile.ZipFile(io.BytesIO(response.read()))
except (OSError, zipfile.BadZipFile) as error:
    sys.exit(f"setup: cannot download {url}: {error}")
names = sorted(info.filename for info in archive.infolist() if not info.is_dir())
summary = "".join(f"{hashlib.sha256(archive.read(name)).hexdigest()}  {name}\n" for name in names)
got = "h1:" + base64.b64encode(hashlib.sha256(summary.encode()).digest()).decode()
if got != want:
    sys.exit(f"setup: {url} has hash {got}, expected {want}: not unpacked")
prefix = f"golang.org/toolchain@{version}/"
staging = dest + ".partial"
shutil.rmtree(staging, ignore_errors=True)
for name in names:
    if not name.startswith(prefix) or ".." in name.split("/"):
        sys.exit(f"setup: unexpected path in the toolchain zip: {name}")
    target = os.path.join(staging, name[len(prefix):])
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as out:
        out.write(archive.read(name))
    if name[len(prefix):].startswith(("bin/", "pkg/tool/")):
        os.chmod(target, os.stat(target).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
shutil.rmtree(dest, ignore_errors=True)
os.rename(staging, dest)
PY
}

# Prints the go command to build with: a Go >= $GO_MIN on PATH, else the pinned toolchain.
go_command() {
  if [ -x "$goroot/bin/go" ] && [ "$("$goroot/bin/go" env GOVERSION 2>/dev/null)" = "$GO_TOOLCHAIN" ]; then
    echo "$goroot/bin/go"
    return 0
  fi
  if command -v go >/dev/null && version_at_least "$(go env GOVERSION 2>/dev/null)" "$GO_MIN"; then
    command -v go
    return 0
  fi
  fetch_toolchain >&2 || return 1
  echo "$goroot/bin/go"
}

# go install names the binary after the package directory; it is renamed to `out` where that
# name is too generic ("server"). A version stamp beside it makes a pin change rebuild.
install_tool() {
  local name=$1 pkg=$2 version=$3 out=$4 go
  if [ -x "$bin/$out" ] && [ "$(cat "$bin/.$out.version" 2>/dev/null)" = "$version" ]; then return 0; fi
  go=$(go_command) || return 1
  echo "setup: building $name $version with $("$go" env GOVERSION) (a few minutes the first time)"
  mkdir -p "$bin"
  # GOTOOLCHAIN=local: build with this toolchain, never switch to another one behind our back.
  GOTOOLCHAIN=local GOBIN=$bin CGO_ENABLED=0 "$go" install "$pkg@$version" || return 1
  [ "$(basename "$pkg")" = "$out" ] || mv -f "$bin/$(basename "$pkg")" "$bin/$out"
  echo "$version" >"$bin/.$out.version"
}

if ! { install_tool k6 go.k6.io/k6 "$K6_VERSION" k6 &&
  install_tool toxiproxy github.com/Shopify/toxiproxy/v2/cmd/server "$TOXIPROXY_VERSION" toxiproxy-server; }; then
  cat >&2 <<'MSG'
setup: WARNING: k6 and toxiproxy were not built (see the error above). npm start does not need them;
  the k6 smoke test (test/k6/smoke.test.ts) and the benchmarks do. Fix the cause (the Go module
  proxy must be reachable, or install Go >= 1.25) and run: bash scripts/setup.d/go-tools.sh
MSG
fi
