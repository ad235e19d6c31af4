#!/usr/bin/env bash
# Creates a kind cluster, builds and loads the image, installs the chart, waits for
# readiness and port-forwards the API. Needs: docker, kind, kubectl, helm.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cluster="${KIND_CLUSTER:-gpu-telemetry}"
release="${RELEASE:-telemetry}"
namespace="${NAMESPACE:-gpu-telemetry}"
image="gpu-telemetry:dev"
api_port="${API_LOCAL_PORT:-8080}"

for tool in docker kind kubectl helm; do
  command -v "$tool" >/dev/null || { echo "missing: $tool (install it first)" >&2; exit 1; }
done

if ! kind get clusters | grep -qx "$cluster"; then
  kind create cluster --name "$cluster" --config "$here/kind-config.yaml" --wait 120s
fi
kubectl config use-context "kind-$cluster" >/dev/null

docker build -t "$image" "$root"
kind load docker-image "$image" --name "$cluster"

helm upgrade --install "$release" "$root/deploy/helm/gpu-telemetry" \
  --namespace "$namespace" --create-namespace \
  --set image.repository=gpu-telemetry --set image.tag=dev --set image.pullPolicy=Never \
  --set broker.persistence.size=2Gi --set clickhouse.internal.persistence.size=5Gi \
  --wait --timeout 10m

kubectl -n "$namespace" rollout status "statefulset/$release-gpu-telemetry-broker" --timeout=5m
kubectl -n "$namespace" rollout status "deployment/$release-gpu-telemetry-api" --timeout=5m

tokens="$release-gpu-telemetry-tokens"
echo "API:        http://127.0.0.1:$api_port/api/v1/gpus"
echo "            (read token: kubectl -n $namespace get secret $tokens -o jsonpath='{.data.api-read-token}' | base64 -d)"
echo "Swagger UI: http://127.0.0.1:$api_port/swagger"
echo "(port-forward runs in the foreground; Ctrl-C stops it, deploy/kind/down.sh removes the cluster)"
exec kubectl -n "$namespace" port-forward "svc/$release-gpu-telemetry-api" "$api_port:80"
