import { type Static, Type } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { type ExporterTarget, normalizeTargets, targetUrl } from "./exporter-target.ts";
import type { KubernetesApi } from "./kubernetes-api.ts";
import { namespacePath, type PortChoice, type TargetShape } from "./target-shape.ts";

/**
 * Targets from the EndpointSlices of a Service (label `kubernetes.io/service-name`):
 * what a Prometheus `endpointslice` service discovery would scrape. Only the fields
 * read are declared; everything else in the objects is ignored.
 *
 * An endpoint counts when it is ready (a missing `ready` means ready, as the API
 * documents) and not terminating; its first address is used (the API says every
 * address of an endpoint is the same backend). The same address in two slices (slices
 * are being replaced) is one target.
 */

const EndpointSlice = Type.Object({
  addressType: Type.Optional(Type.String()),
  endpoints: Type.Optional(
    Type.Union([
      Type.Null(),
      Type.Array(
        Type.Object({
          addresses: Type.Array(Type.String()),
          conditions: Type.Optional(
            Type.Object({
              ready: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
              terminating: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
            }),
          ),
          targetRef: Type.Optional(
            Type.Object({ name: Type.Optional(Type.String()), namespace: Type.Optional(Type.String()) }),
          ),
        }),
      ),
    ]),
  ),
  ports: Type.Optional(
    Type.Union([
      Type.Null(),
      Type.Array(Type.Object({ name: Type.Optional(Type.String()), port: Type.Optional(Type.Integer()) })),
    ]),
  ),
  metadata: Type.Optional(Type.Object({ name: Type.Optional(Type.String()), namespace: Type.Optional(Type.String()) })),
});
type EndpointSlice = Static<typeof EndpointSlice>;
const checkSlice = TypeCompiler.Compile(EndpointSlice);

export interface EndpointSliceQuery extends TargetShape {
  /** A namespace, or "*" for the Service name in every namespace. */
  namespace: string;
  service: string;
}

export async function endpointSliceTargets(
  api: KubernetesApi,
  query: EndpointSliceQuery,
  signal?: AbortSignal,
): Promise<ExporterTarget[]> {
  const path = `/apis/discovery.k8s.io/v1${namespacePath(query.namespace)}/endpointslices`;
  const items = await api.list(path, { labelSelector: `kubernetes.io/service-name=${query.service}` }, signal);
  const targets: ExporterTarget[] = [];
  for (const item of items) {
    if (!checkSlice.Check(item)) {
      const first = [...checkSlice.Errors(item)][0];
      throw new Error(`EndpointSlice of ${query.service} is malformed at ${first?.path}: ${first?.message}`);
    }
    targets.push(...sliceTargets(item, query));
  }
  return normalizeTargets(targets);
}

function sliceTargets(slice: EndpointSlice, query: EndpointSliceQuery): ExporterTarget[] {
  if (slice.addressType === "FQDN") return [];
  const port = slicePort(slice, query.port);
  if (port === undefined) return [];
  const targets: ExporterTarget[] = [];
  for (const endpoint of slice.endpoints ?? []) {
    const address = endpoint.addresses[0];
    if (address === undefined) continue;
    if (endpoint.conditions?.ready === false || endpoint.conditions?.terminating === true) continue;
    const namespace = endpoint.targetRef?.namespace ?? slice.metadata?.namespace ?? "";
    const origin = endpoint.targetRef?.name === undefined ? address : `${namespace}/${endpoint.targetRef.name}`;
    targets.push({ url: targetUrl({ scheme: query.scheme, host: address, port, path: query.path }), origin });
  }
  return targets;
}

/** The slice's port matching the choice (by name, or by number); a single unnamed port when none is asked. */
function slicePort(slice: EndpointSlice, choice: PortChoice): number | undefined {
  const ports = slice.ports ?? [];
  if (typeof choice === "number") return ports.some((port) => port.port === choice) ? choice : undefined;
  return ports.find((port) => (port.name ?? "") === choice)?.port;
}
