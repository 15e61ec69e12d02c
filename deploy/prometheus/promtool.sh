#!/usr/bin/env bash
# promtool (Prometheus's rule checker and rule unit-test runner) at a pinned version. There is no Debian or
# PyPI package of it and no download site is reachable, so it is built from its Go module once into
# ~/.cache/membank/tools and reused from there; the Go module and build caches live under ~/.cache/membank too,
# so a clean clone (CI) on a machine that built it before builds nothing.
#
#   deploy/prometheus/promtool.sh check rules deploy/prometheus/alerts.yml   # any promtool command
#   deploy/prometheus/promtool.sh --install                                   # build if needed, print the path
#
# Exit code 3: no Go toolchain, so promtool cannot be built (the rule tests skip on it). A build that takes
# longer than PROMTOOL_BUILD_TIMEOUT seconds (default 1200) is stopped and reported, not waited for.
set -euo pipefail

VERSION=v0.316.0
MODULE=github.com/prometheus/prometheus/cmd/promtool
CACHE=${MEMBANK_CACHE_DIR:-$HOME/.cache/membank}
TOOL_DIR=$CACHE/tools/promtool-$VERSION
PROMTOOL=$TOOL_DIR/promtool
BUILD_TIMEOUT=${PROMTOOL_BUILD_TIMEOUT:-1200}

build() {
    local go
    go=$(command -v go || true)
    if [[ -z $go && -x /usr/local/go/bin/go ]]; then
        go=/usr/local/go/bin/go
    fi
    if [[ -z $go ]]; then
        echo "promtool.sh: no Go toolchain (go not on PATH nor /usr/local/go/bin/go); cannot build promtool $VERSION" >&2
        exit 3
    fi
    mkdir -p "$TOOL_DIR"
    # Built into a scratch directory and moved into place, so a stopped build never leaves a broken binary.
    SCRATCH=$(mktemp -d "$TOOL_DIR/build.XXXXXX")
    trap 'rm -rf "$SCRATCH"' EXIT
    echo "promtool.sh: building promtool $VERSION from $MODULE (once; cached in $TOOL_DIR)" >&2
    local started=$SECONDS status=0
    # GOTOOLCHAIN=local: fail on a Go too old for the module instead of fetching another toolchain unasked.
    # -modcacherw: the module cache stays deletable with rm -rf.
    GOPATH=$CACHE/go GOMODCACHE=$CACHE/go/pkg/mod GOCACHE=$CACHE/go-build GOBIN=$SCRATCH \
        GOTOOLCHAIN=local GOFLAGS="-modcacherw -buildvcs=false" CGO_ENABLED=0 \
        timeout --kill-after=30 "$BUILD_TIMEOUT" "$go" install "$MODULE@$VERSION" >&2 || status=$?
    if [[ $status -eq 124 || $status -eq 137 ]]; then
        echo "promtool.sh: building promtool $VERSION took over ${BUILD_TIMEOUT}s and was stopped;" \
            "rerun it (the module cache keeps what was fetched) or raise PROMTOOL_BUILD_TIMEOUT" >&2
        exit 1
    elif [[ $status -ne 0 ]]; then
        echo "promtool.sh: building promtool $VERSION failed (go install exited $status, output above)" >&2
        exit 1
    fi
    mv "$SCRATCH/promtool" "$PROMTOOL"
    rm -rf "$SCRATCH"
    trap - EXIT
    # The compiled packages (about 2 GB) would only serve a rebuild of this same version; the module cache,
    # which saves the downloads of the next version's build, stays.
    GOCACHE=$CACHE/go-build "$go" clean -cache
    echo "promtool.sh: built $PROMTOOL in $((SECONDS - started))s" >&2
}

if [[ ! -x $PROMTOOL ]]; then
    mkdir -p "$TOOL_DIR"
    # Two test workers (or make and a test) may ask at once: one builds, the other waits for it.
    exec 9>"$TOOL_DIR.lock"
    flock --timeout "$((BUILD_TIMEOUT + 60))" 9 || {
        echo "promtool.sh: gave up waiting for another build of promtool $VERSION ($TOOL_DIR.lock)" >&2
        exit 1
    }
    [[ -x $PROMTOOL ]] || build
    exec 9>&-
fi

if [[ ${1:-} == --install ]]; then
    echo "$PROMTOOL"
    exit 0
fi
exec "$PROMTOOL" "$@"
