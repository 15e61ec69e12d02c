#!/usr/bin/env bash
# Renders the plain manifests of deploy/k8s from the Helm chart with its production values, for clusters
# without Helm. Rerun it after every change of the chart: tests/deploy/test_k8s_manifests.py fails while the
# committed files differ from a fresh rendering.
#
#   deploy/k8s/render.sh            # into deploy/k8s
#   deploy/k8s/render.sh OUT_DIR    # elsewhere (what the test compares)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${1:-$ROOT/deploy/k8s}
CHART=$ROOT/deploy/helm/membank
HELM=$("$ROOT/deploy/tools/go-tool.sh" helm --install)
HEADER="# Rendered from deploy/helm/membank with values-production.yaml by deploy/k8s/render.sh: do not edit."

render() {
    "$HELM" template membank "$CHART" --namespace membank --values "$CHART/values-production.yaml" "$@"
}

mkdir -p "$OUT"
# The schema migration runs first and alone (a Helm hook in the chart), so it has a file of its own.
{ echo "$HEADER"; render --show-only templates/migration-job.yaml; } >"$OUT/migrate-job.yaml"
{ echo "$HEADER"; render --no-hooks; } >"$OUT/membank.yaml"
