#!/usr/bin/env bash
# Deletes the kind cluster made by up.sh (and everything in it).
set -euo pipefail
cluster="${KIND_CLUSTER:-gpu-telemetry}"
command -v kind >/dev/null || { echo "missing: kind" >&2; exit 1; }
kind delete cluster --name "$cluster"
