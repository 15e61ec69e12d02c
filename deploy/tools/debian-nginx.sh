#!/usr/bin/env bash
# Debian's nginx binary, for `nginx -t` on deploy/compose/nginx/nginx.conf (tests/deploy/test_nginx.py).
# The package is downloaded (about 0.5 MB) and unpacked into ~/.cache/membank/tools, never installed: an
# install would run its maintainer scripts, which start an nginx on port 80 of this machine.
#
#   deploy/tools/debian-nginx.sh      # unpack if needed, print the binary's path
#
# Exit code 3: no apt-get/dpkg-deb here (not Debian), so the binary cannot be had (the test skips).
set -euo pipefail

if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
    echo "debian-nginx.sh: no apt-get/dpkg-deb (not a Debian system); cannot fetch nginx" >&2
    exit 3
fi
version=$(apt-cache policy nginx 2>/dev/null | sed -n 's/^ *Candidate: //p')
if [[ -z $version || $version == "(none)" ]]; then
    apt-get update -qq >&2
    version=$(apt-cache policy nginx | sed -n 's/^ *Candidate: //p')
fi
CACHE=${MEMBANK_CACHE_DIR:-$HOME/.cache/membank}
TOOL_DIR=$CACHE/tools/nginx-$version
BINARY=$TOOL_DIR/usr/sbin/nginx
if [[ ! -x $BINARY ]]; then
    mkdir -p "$CACHE/tools"
    SCRATCH=$(mktemp -d "$CACHE/tools/nginx.XXXXXX")
    trap 'rm -rf "$SCRATCH"' EXIT
    (cd "$SCRATCH" && apt-get download -qq "nginx=$version" 2>/dev/null >&2)
    dpkg-deb -x "$SCRATCH"/nginx_*.deb "$SCRATCH/root"
    rm -rf "$TOOL_DIR"
    mv "$SCRATCH/root" "$TOOL_DIR"
    echo "debian-nginx.sh: unpacked nginx $version into $TOOL_DIR" >&2
fi
echo "$BINARY"
