import type { ApiContext } from "../api-context.ts";
import type {
  FleetSnapshot,
  Gpu,
  HostList,
  LatestValue,
  MetricList,
  TelemetryPage,
  TelemetrySummary,
} from "../api-models.ts";
import { ApiError, badRequest } from "../errors.ts";
import { instanceFromSummary } from "../gpu-lookup.ts";
import { readHosts, readMetrics } from "../routes/catalog-routes.ts";
import { type FleetReader, fleetRequest } from "../routes/fleet-routes.ts";
import { type GpuCursorCodec, gpuPageLimitMax, readGpuDetail, readGpuPage } from "../routes/gpu-routes.ts";
import type { Loaders, SummaryArgs, TelemetryArgs } from "./loaders.ts";

/**
 * The Query type's resolvers (graphql-js calls a function it finds on the root value or
 * on a parent object with (args, context)). Each GPU becomes a node whose data fields
 * are plain values and whose latest/telemetry/summary fields go through the request's
 * loaders, so a list of GPUs costs one query per field.
 */

export interface GraphqlContext {
  api: ApiContext;
  loaders: Loaders;
  readFleet: FleetReader;
  gpuCursor: GpuCursorCodec;
}

type Filters = { hostname?: string; model?: string; namespace?: string; pod?: string; container?: string };

interface GpuNode extends Omit<Gpu, "mig_instances"> {
  mig_instances: GpuNode[];
  latest(args: { metrics?: string[] }, context: GraphqlContext): Promise<LatestValue[]>;
  telemetry(args: TelemetryArgs, context: GraphqlContext): Promise<TelemetryPage>;
  summary(args: SummaryArgs, context: GraphqlContext): Promise<TelemetrySummary>;
}

function gpuNode(gpu: Gpu): GpuNode {
  const { mig_instances, ...fields } = gpu;
  return {
    ...fields,
    mig_instances: mig_instances.map((instance) => gpuNode(instanceFromSummary(gpu, instance))),
    async latest(args, context) {
      const values = await context.loaders.latest.load(gpu.id);
      const wanted = args.metrics === undefined ? undefined : new Set(args.metrics);
      return wanted === undefined ? values : values.filter((value) => wanted.has(value.metric));
    },
    telemetry: (args, context) => context.loaders.telemetryOf(gpu.id, definedOnly(args)),
    summary: (args, context) => context.loaders.summaryOf(gpu.id, definedOnly(args)),
  };
}

export const rootValue = {
  async gpus(args: Filters & { limit?: number; cursor?: string }, context: GraphqlContext) {
    const limit = args.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > gpuPageLimitMax) {
      throw badRequest("limit", `must be an integer from 1 to ${gpuPageLimitMax}, got ${limit}`);
    }
    const page = await readGpuPage(context.api, context.gpuCursor, { ...definedOnly(args), limit });
    return { items: page.items.map(gpuNode), next_cursor: page.next_cursor };
  },

  async gpu(args: { id: string }, context: GraphqlContext): Promise<GpuNode | null> {
    try {
      const { latest, ...gpu } = await readGpuDetail(context.api, args.id);
      context.loaders.latest.prime(gpu.id, latest);
      return gpuNode(gpu);
    } catch (error) {
      if (error instanceof ApiError && error.code === "not_found") return null;
      throw error;
    }
  },

  async fleet(args: Filters & { metrics?: string[] }, context: GraphqlContext): Promise<FleetSnapshot> {
    const { metrics, ...filters } = definedOnly(args);
    const answer = await context.readFleet(fleetRequest({ ...filters, metric: metrics }));
    return answer.snapshot;
  },

  hosts: (_args: unknown, context: GraphqlContext): Promise<HostList["items"]> => readHosts(context.api),

  metrics: (_args: unknown, context: GraphqlContext): Promise<MetricList["items"]> => readMetrics(context.api),
};

/** Arguments graphql-js passes as null (a variable set to null) are treated as absent, as in REST. */
function definedOnly<T extends object>(args: T): T {
  return Object.fromEntries(Object.entries(args).filter(([, value]) => value !== null && value !== undefined)) as T;
}
