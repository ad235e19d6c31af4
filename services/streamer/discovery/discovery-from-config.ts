import { ConfigError } from "../../../src/config/env.ts";
import type { StreamerConfig } from "../config.ts";
import { endpointSliceTargets } from "./endpoint-slice-targets.ts";
import { type ExporterTarget, staticTargets } from "./exporter-target.ts";
import { inClusterApiUrl, KubernetesApi, podNamespace } from "./kubernetes-api.ts";
import { podTargets } from "./pod-targets.ts";
import { parsePortChoice, type TargetShape } from "./target-shape.ts";

/**
 * The discovery the settings ask for, checked at start-up: a bad URL, port or
 * namespace is a ConfigError (exit 2 with the variable's name), not a loop of failed
 * refreshes.
 */

export interface DiscoveryPlan {
  /** One discovery of the whole target set. */
  discover: (signal: AbortSignal) => Promise<ExporterTarget[]>;
  /** 0 for a static list (discovered once). */
  refreshMs: number;
  /** For the start-up log. */
  describe: Record<string, string>;
}

/** Bounds of the Kubernetes API client: pages of 500 objects, 16 MiB an answer, 100 pages. */
const kubernetesLimits = {
  requestTimeoutMs: 10_000,
  responseBytesMax: 16 * 1024 * 1024,
  pageItemsMax: 500,
  pagesMax: 100,
};

export function discoveryFromConfig(config: StreamerConfig): DiscoveryPlan {
  const kind = config.STREAMER_EXPORTER_DISCOVERY;
  if (kind === "static") {
    const targets = configured(() => staticTargets(config.STREAMER_EXPORTER_URLS));
    if (targets.length === 0) throw new ConfigError("STREAMER_EXPORTER_URLS: no URL given (discovery static)");
    return {
      discover: async () => targets,
      refreshMs: 0,
      describe: { discovery: kind, targets: String(targets.length) },
    };
  }
  const api = new KubernetesApi({ ...kubernetesLimits, ...apiLocation(config) });
  const shape: TargetShape = {
    port: configured(() => parsePortChoice(config.STREAMER_EXPORTER_PORT)),
    scheme: config.STREAMER_EXPORTER_SCHEME,
    path: config.STREAMER_EXPORTER_PATH,
  };
  const namespace = configured(
    () => config.STREAMER_EXPORTER_NAMESPACE || podNamespace(config.STREAMER_KUBERNETES_SERVICE_ACCOUNT_DIR),
  );
  const describe = { discovery: kind, namespace, port: String(shape.port) };
  if (kind === "endpointslices") {
    const service = config.STREAMER_EXPORTER_SERVICE;
    if (service === "") throw new ConfigError("STREAMER_EXPORTER_SERVICE: required with discovery endpointslices");
    const query = { ...shape, namespace, service };
    return {
      discover: (signal) => endpointSliceTargets(api, query, signal),
      refreshMs: config.STREAMER_DISCOVERY_REFRESH_MS,
      describe: { ...describe, service },
    };
  }
  const labelSelector = config.STREAMER_EXPORTER_LABEL_SELECTOR;
  if (labelSelector === "") throw new ConfigError("STREAMER_EXPORTER_LABEL_SELECTOR: required with discovery pods");
  const query = { ...shape, namespace, labelSelector };
  return {
    discover: (signal) => podTargets(api, query, signal),
    refreshMs: config.STREAMER_DISCOVERY_REFRESH_MS,
    describe: { ...describe, labelSelector },
  };
}

function apiLocation(config: StreamerConfig): { apiUrl: string; serviceAccountDir: string } {
  const serviceAccountDir = config.STREAMER_KUBERNETES_SERVICE_ACCOUNT_DIR;
  const given = config.STREAMER_KUBERNETES_API_URL;
  if (given !== "") {
    if (!URL.canParse(given)) throw new ConfigError(`STREAMER_KUBERNETES_API_URL: "${given}" is not a URL`);
    return { apiUrl: given, serviceAccountDir };
  }
  const apiUrl = configured(() => inClusterApiUrl(config.KUBERNETES_SERVICE_HOST, config.KUBERNETES_SERVICE_PORT));
  return { apiUrl, serviceAccountDir };
}

/** Runs a check whose Error becomes a ConfigError. */
function configured<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError((error as Error).message);
  }
}
