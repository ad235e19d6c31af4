import type { ClickHouseClient } from "@clickhouse/client";
import { type ApiAccess, apiScopes } from "../../../services/api/api-access.ts";
import type { ApiLimits } from "../../../services/api/api-context.ts";
import { type ApiApp, createApiApp } from "../../../services/api/app.ts";
import { parseTokenEntries } from "../../../src/auth/token-entries.ts";
import { TokenStore } from "../../../src/auth/token-store.ts";
import { createClickHouse } from "../../../src/clickhouse/client.ts";
import { insertDatapoints } from "../../../src/clickhouse/datapoints-insert.ts";
import { createFetchReader } from "../../../src/clickhouse/fetch-reader.ts";
import { migrate } from "../../../src/clickhouse/migrations.ts";
import type { TelemetryPoint } from "../../../src/domain/telemetry.ts";
import { createLogger } from "../../../src/observability/logger.ts";
import { createMetricsRegistry, type Registry } from "../../../src/observability/metrics.ts";
import { type EmbeddedClickHouse, startEmbeddedClickHouse } from "../../support/embedded-clickhouse.ts";
import { bearer, testReadToken } from "../../support/test-tokens.ts";

/**
 * A real embedded ClickHouse with the telemetry schema and a known data set, and the
 * API app on it (called with app.handle, no socket). One per test file.
 */
export interface ApiFixture {
  clickhouse: EmbeddedClickHouse;
  client: ClickHouseClient;
  app: ApiApp;
  registry: Registry;
  /** The app's "now": fixed, two hours after `dataset.baseMs`. */
  nowMs: number;
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are plain JSON read back by assertions
  get(path: string): Promise<{ status: number; body: any; headers: Headers }>;
  /** The raw answer, for bodies that are not JSON (exports) and requests with headers (with the read token unless they set one). */
  request(path: string, init?: RequestInit): Promise<Response>;
  stop(): Promise<void>;
}

export const database = "api_test";

/** Hour-aligned, within retention, fixed for the whole file. */
export const baseMs = Math.floor((Date.now() - 3 * 3_600_000) / 3_600_000) * 3_600_000;

export const gpuA = { uuid: "GPU-0a000000-0000-0000-0000-000000000001", hostname: "host-a", gpu_index: 0 };
export const gpuB = { uuid: "GPU-0b000000-0000-0000-0000-000000000002", hostname: "host-a", gpu_index: 1 };
export const gpuC = { uuid: "GPU-0c000000-0000-0000-0000-000000000003", hostname: "host-b", gpu_index: 0 };

export const utilization = "DCGM_FI_DEV_GPU_UTIL";
export const temperature = "DCGM_FI_DEV_GPU_TEMP";
export const power = "DCGM_FI_DEV_POWER_USAGE";

/** GPU A: 5,000 instants, 500 ms apart, each with both metrics: 10,000 datapoints. */
export const gpuAInstants = 5_000;
export const gpuAStepMs = 500;
/** GPU B: points 1 ms around two edges, for inclusive-bound tests. */
export const edgeStartMs = baseMs + 1_234;
export const edgeEndMs = edgeStartMs + 10_000;
/** GPU C: one point per second for 10 minutes, value = seconds since baseMs. */
export const gpuCSeconds = 600;

export function point(
  fields: Partial<TelemetryPoint> & Pick<TelemetryPoint, "ts" | "uuid" | "metric">,
): TelemetryPoint {
  return {
    source_ts: fields.ts - 250,
    hostname: "host-a",
    gpu_index: 0,
    device: `nvidia${fields.gpu_index ?? 0}`,
    model: "NVIDIA H100 80GB HBM3",
    value: 0,
    container: "",
    pod: "",
    namespace: "",
    labels: { DCGM_FI_DRIVER_VERSION: "535.129.03" },
    ...fields,
  };
}

export function dataset(): TelemetryPoint[] {
  const points: TelemetryPoint[] = [];
  for (let index = 0; index < gpuAInstants; index += 1) {
    const ts = baseMs + index * gpuAStepMs;
    points.push(point({ ...gpuA, ts, metric: utilization, value: index % 101 }));
    points.push(point({ ...gpuA, ts, metric: temperature, value: 40 + (index % 30) }));
  }
  for (const edgeMs of [edgeStartMs, edgeEndMs]) {
    for (const deltaMs of [-1, 0, 1]) {
      points.push(point({ ...gpuB, ts: edgeMs + deltaMs, metric: power, value: deltaMs + 100, labels: {} }));
    }
  }
  for (let second = 0; second < gpuCSeconds; second += 1) {
    points.push(point({ ...gpuC, ts: baseMs + second * 1_000, metric: power, value: second }));
  }
  return points;
}

/** The API's access in tests: scope read closed, `testReadToken` accepted (or read open). */
export function testApiAccess(readOpen = false): ApiAccess {
  const tokens = new TokenStore(apiScopes);
  tokens.replace("read", "test", parseTokenEntries(testReadToken, { source: "test", limitable: false }));
  return { tokens, readOpen };
}

/** The fixture API's cursor key, so tests can mint cursors a key holder could. */
export const fixtureCursorKey = new Uint8Array(32).fill(7);

export async function startApiFixture(
  limits: Partial<ApiLimits> = {},
  points: readonly TelemetryPoint[] = dataset(),
): Promise<ApiFixture> {
  const clickhouse = await startEmbeddedClickHouse();
  const connection = {
    url: clickhouse.url,
    username: "default",
    password: clickhouse.password,
    requestTimeoutMs: 30_000,
  };
  const admin = createClickHouse({ ...connection, database: "default" });
  await migrate({ client: admin, database, retentionDays: 30, clock: Date.now });
  await admin.close();
  const client = createClickHouse({ ...connection, database });
  await insertDatapoints(client, points, { dedupToken: "api-fixture/0" });
  const registry = createMetricsRegistry({ service: "api", instanceId: "test" });
  const logger = createLogger({ service: "api", instanceId: "test", level: "silent" });
  const nowMs = baseMs + 2 * 3_600_000;
  const reader = createFetchReader({ ...connection, database });
  const app = createApiApp({
    clickhouse: client,
    reader,
    logger,
    registry,
    clock: () => nowMs,
    limits: { listCacheTtlMs: 0, ...limits },
    cursorKey: fixtureCursorKey,
    access: testApiAccess(),
  });
  return {
    clickhouse,
    client,
    app,
    registry,
    nowMs,
    request(path, init = {}) {
      const headers = new Headers(init.headers);
      if (!headers.has("authorization")) headers.set("authorization", bearer(testReadToken).authorization);
      return app.handle(new Request(`http://localhost${path}`, { ...init, headers }));
    },
    async get(path) {
      const response = await app.handle(new Request(`http://localhost${path}`, { headers: bearer(testReadToken) }));
      const text = await response.text();
      const json = response.headers.get("content-type")?.includes("json") === true;
      return { status: response.status, body: json ? JSON.parse(text) : text, headers: response.headers };
    },
    async stop() {
      await client.close();
      await clickhouse.stop();
    },
  };
}

export const iso = (epochMs: number) => new Date(epochMs).toISOString();
export const enc = encodeURIComponent;
