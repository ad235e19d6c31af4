import { type Static, Type } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { type ExporterTarget, normalizeTargets, targetUrl } from "./exporter-target.ts";
import type { KubernetesApi } from "./kubernetes-api.ts";
import { namespacePath, type PortChoice, type TargetShape } from "./target-shape.ts";

/**
 * Targets from pods chosen by a label selector (dcgm-exporter's DaemonSet pods, e.g.
 * `app=nvidia-dcgm-exporter`), for clusters without a Service in front of them. A pod
 * counts when it runs, has an IP, is not being deleted and is Ready; a named port is
 * looked up among its containers' ports.
 */

const Pod = Type.Object({
  metadata: Type.Object({
    name: Type.String(),
    namespace: Type.Optional(Type.String()),
    deletionTimestamp: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  }),
  spec: Type.Optional(
    Type.Object({
      containers: Type.Optional(
        Type.Array(
          Type.Object({
            ports: Type.Optional(
              Type.Union([
                Type.Null(),
                Type.Array(Type.Object({ name: Type.Optional(Type.String()), containerPort: Type.Integer() })),
              ]),
            ),
          }),
        ),
      ),
    }),
  ),
  status: Type.Optional(
    Type.Object({
      phase: Type.Optional(Type.String()),
      podIP: Type.Optional(Type.String()),
      conditions: Type.Optional(
        Type.Union([Type.Null(), Type.Array(Type.Object({ type: Type.String(), status: Type.String() }))]),
      ),
    }),
  ),
});
type Pod = Static<typeof Pod>;
const checkPod = TypeCompiler.Compile(Pod);

export interface PodQuery extends TargetShape {
  /** A namespace, or "*" for every namespace (needs a ClusterRole). */
  namespace: string;
  labelSelector: string;
}

export async function podTargets(api: KubernetesApi, query: PodQuery, signal?: AbortSignal): Promise<ExporterTarget[]> {
  const path = `/api/v1${namespacePath(query.namespace)}/pods`;
  const params = { labelSelector: query.labelSelector, fieldSelector: "status.phase=Running" };
  const items = await api.list(path, params, signal);
  const targets: ExporterTarget[] = [];
  for (const item of items) {
    if (!checkPod.Check(item)) {
      const first = [...checkPod.Errors(item)][0];
      throw new Error(`pod matching ${query.labelSelector} is malformed at ${first?.path}: ${first?.message}`);
    }
    const target = podTarget(item, query);
    if (target !== undefined) targets.push(target);
  }
  return normalizeTargets(targets);
}

function podTarget(pod: Pod, query: PodQuery): ExporterTarget | undefined {
  const ip = pod.status?.podIP ?? "";
  if (ip === "" || pod.status?.phase !== "Running") return undefined;
  if (pod.metadata.deletionTimestamp !== undefined && pod.metadata.deletionTimestamp !== null) return undefined;
  const ready = pod.status?.conditions?.find((condition) => condition.type === "Ready");
  if (ready !== undefined && ready.status !== "True") return undefined;
  const port = podPort(pod, query.port);
  if (port === undefined) return undefined;
  const origin = `${pod.metadata.namespace ?? ""}/${pod.metadata.name}`;
  return { url: targetUrl({ scheme: query.scheme, host: ip, port, path: query.path }), origin };
}

function podPort(pod: Pod, choice: PortChoice): number | undefined {
  if (typeof choice === "number") return choice;
  for (const container of pod.spec?.containers ?? []) {
    const port = (container.ports ?? []).find((candidate) => candidate.name === choice);
    if (port !== undefined) return port.containerPort;
  }
  return undefined;
}
