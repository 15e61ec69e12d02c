#!/usr/bin/env bash
# Pinned Go-built tools of the checks (promtool, helm, actionlint, tofu). No Debian or PyPI package has them and no
# download site is reachable, so each is built from its Go module once into ~/.cache/membank/tools and reused
# from there; the Go module and build caches live under ~/.cache/membank too, so a clean clone (CI) on a machine
# that built a tool before builds nothing.
#
#   deploy/tools/go-tool.sh promtool check rules deploy/prometheus/alerts.yml   # run the tool with arguments
#   deploy/tools/go-tool.sh helm --install                                      # build if needed, print the path
#
# Exit code 3: no Go toolchain, so the tool cannot be built (the tests that need it skip). A build that takes
# longer than GO_TOOL_BUILD_TIMEOUT seconds (default 1200) is stopped and reported, not waited for.
set -euo pipefail

NAME=${1:?usage: go-tool.sh NAME (--install | ARGS...)}
shift
# name -> Go package to install and its pinned version; MAIN_MODULE: the package's module, for a module whose
# go.mod has replace directives (go install refuses to install those by version: built as the main module).
MAIN_MODULE=
case $NAME in
    promtool) PACKAGE=github.com/prometheus/prometheus/cmd/promtool VERSION=v0.316.0 ;;
    helm) PACKAGE=helm.sh/helm/v4/cmd/helm VERSION=v4.3.2 ;;
    actionlint) PACKAGE=github.com/rhysd/actionlint/cmd/actionlint VERSION=v1.7.12 ;;
    # OpenTofu, for `tofu fmt` of deploy/terraform (Terraform's own module cannot be built by version either,
    # and its later versions are not open source).
    tofu) PACKAGE=github.com/opentofu/opentofu/cmd/tofu VERSION=v1.12.6 MAIN_MODULE=github.com/opentofu/opentofu ;;
    *)
        echo "go-tool.sh: unknown tool '$NAME' (known: promtool, helm, actionlint, tofu)" >&2
        exit 2
        ;;
esac
CACHE=${MEMBANK_CACHE_DIR:-$HOME/.cache/membank}
TOOL_DIR=$CACHE/tools/$NAME-$VERSION
BINARY=$TOOL_DIR/$NAME
BUILD_TIMEOUT=${GO_TOOL_BUILD_TIMEOUT:-1200}
# Each tool's build has its own build cache: a finished build empties its cache, which must not pull the
# compiled packages from under another tool's build running at the same time (the lock is per tool).
BUILD_CACHE=$CACHE/go-build/$NAME-$VERSION

build() {
    local go
    go=$(command -v go || true)
    if [[ -z $go && -x /usr/local/go/bin/go ]]; then
        go=/usr/local/go/bin/go
    fi
    if [[ -z $go ]]; then
        echo "go-tool.sh: no Go toolchain (go not on PATH nor /usr/local/go/bin/go); cannot build $NAME $VERSION" >&2
        exit 3
    fi
    mkdir -p "$TOOL_DIR"
    # Built into a scratch directory and moved into place, so a stopped build never leaves a broken binary.
    SCRATCH=$(mktemp -d "$TOOL_DIR/build.XXXXXX")
    trap 'rm -rf "$SCRATCH"' EXIT
    echo "go-tool.sh: building $NAME $VERSION from $PACKAGE (once; cached in $TOOL_DIR)" >&2
    local started=$SECONDS status=0 source_dir
    # GOTOOLCHAIN=local: fail on a Go too old for the module instead of fetching another toolchain unasked.
    # -modcacherw: the module cache stays deletable with rm -rf.
    local -a go_env=(GOPATH="$CACHE/go" GOMODCACHE="$CACHE/go/pkg/mod" GOCACHE="$BUILD_CACHE" GOBIN="$SCRATCH"
        GOTOOLCHAIN=local GOFLAGS="-modcacherw -buildvcs=false" CGO_ENABLED=0)
    if [[ -z $MAIN_MODULE ]]; then
        env "${go_env[@]}" timeout --kill-after=30 "$BUILD_TIMEOUT" "$go" install "$PACKAGE@$VERSION" >&2 || status=$?
    else
        source_dir=$(env "${go_env[@]}" "$go" mod download -json "$MAIN_MODULE@$VERSION" |
            sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
        [[ -n $source_dir ]] || { echo "go-tool.sh: could not download $MAIN_MODULE@$VERSION" >&2; exit 1; }
        (cd "$source_dir" && env "${go_env[@]}" timeout --kill-after=30 "$BUILD_TIMEOUT" \
            "$go" build -o "$SCRATCH/$NAME" "./${PACKAGE#"$MAIN_MODULE"/}") >&2 || status=$?
    fi
    if [[ $status -eq 124 || $status -eq 137 ]]; then
        echo "go-tool.sh: building $NAME $VERSION took over ${BUILD_TIMEOUT}s and was stopped;" \
            "rerun it (the module cache keeps what was fetched) or raise GO_TOOL_BUILD_TIMEOUT" >&2
        exit 1
    elif [[ $status -ne 0 ]]; then
        echo "go-tool.sh: building $NAME $VERSION failed (go install exited $status, output above)" >&2
        exit 1
    fi
    mv "$SCRATCH/$NAME" "$BINARY"
    rm -rf "$SCRATCH"
    trap - EXIT
    # The compiled packages (GBs) would only serve a rebuild of this same version; the module cache, which
    # saves the downloads of the next version's build, stays.
    rm -rf "$BUILD_CACHE"
    echo "go-tool.sh: built $BINARY in $((SECONDS - started))s" >&2
}

if [[ ! -x $BINARY ]]; then
    mkdir -p "$TOOL_DIR"
    # Two test workers (or make and a test) may ask at once: one builds, the other waits for it.
    exec 9>"$TOOL_DIR.lock"
    flock --timeout "$((BUILD_TIMEOUT + 60))" 9 || {
        echo "go-tool.sh: gave up waiting for another build of $NAME $VERSION ($TOOL_DIR.lock)" >&2
        exit 1
    }
    [[ -x $BINARY ]] || build
    exec 9>&-
fi

if [[ ${1:-} == --install ]]; then
    echo "$BINARY"
    exit 0
fi
exec "$BINARY" "$@"
