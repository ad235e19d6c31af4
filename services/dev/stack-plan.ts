import { join, resolve } from "node:path";
import type { ProcessSpec } from "./process-supervisor.ts";

export interface StackPlan {
  dataDir: string;
  logLevel: string;
  clickhousePort: number;
  brokerPort: number;
  apiPort: number;
  streamerPortBase: number;
  collectorPortBase: number;
  /** Rows/s of the stream, shared by the streamers; 0 = unlimited. */
  streamerRateRowsPerS: number;
  /** Extra environment per process kind (tests set modes, rates, timeouts). */
  extraEnv?: Partial<Record<"clickhouse" | "broker" | "api" | ScalableKind, Record<string, string>>>;
}

export type ScalableKind = "streamer" | "collector";

const root = resolve(import.meta.dir, "../..");
const bun = process.execPath;

function spec(
  plan: StackPlan,
  name: string,
  kind: string,
  entry: string,
  httpPort: number,
  env: Record<string, string>,
): ProcessSpec {
  return {
    name,
    kind,
    command: [bun, join(root, entry)],
    env: { LOG_LEVEL: plan.logLevel, LOG_FORMAT: "json", INSTANCE_ID: name, ...env, ...extraEnvOf(plan, kind) },
    httpPort,
    logFile: join(plan.dataDir, "logs", `${name}.log`),
  };
}

function extraEnvOf(plan: StackPlan, kind: string): Record<string, string> {
  const extra = plan.extraEnv as Record<string, Record<string, string> | undefined> | undefined;
  return extra?.[kind] ?? {};
}

const clickhouseUrl = (plan: StackPlan) => `http://127.0.0.1:${plan.clickhousePort}`;
const brokerUrl = (plan: StackPlan) => `http://127.0.0.1:${plan.brokerPort}`;

export function clickhouseSpec(plan: StackPlan): ProcessSpec {
  return spec(plan, "clickhouse", "clickhouse", "services/clickhouse-embedded/main.ts", plan.clickhousePort, {
    CLICKHOUSE_EMBEDDED_PORT: String(plan.clickhousePort),
    CLICKHOUSE_EMBEDDED_DATA_DIR: join(plan.dataDir, "clickhouse"),
  });
}

export function brokerSpec(plan: StackPlan): ProcessSpec {
  return spec(plan, "broker", "broker", "brokers/main.ts", plan.brokerPort, {
    BROKER_PORT: String(plan.brokerPort),
    BROKER_DATA_DIR: join(plan.dataDir, "broker"),
  });
}

export function apiSpec(plan: StackPlan): ProcessSpec {
  return spec(plan, "api", "api", "services/api/main.ts", plan.apiPort, {
    API_PORT: String(plan.apiPort),
    CLICKHOUSE_URL: clickhouseUrl(plan),
  });
}

/** Streamer or collector number `ordinal` (1-based); each gets its own port. */
export function scalableSpec(plan: StackPlan, kind: ScalableKind, ordinal: number): ProcessSpec {
  if (kind === "streamer") {
    const port = plan.streamerPortBase + ordinal - 1;
    return spec(plan, `streamer-${ordinal}`, kind, "services/streamer/main.ts", port, {
      STREAMER_PORT: String(port),
      BROKER_URL: brokerUrl(plan),
      STREAMER_CSV_PATH: join(root, "data", "dcgm_metrics_20250718_134233.csv"),
      STREAMER_RATE_ROWS_PER_S: String(plan.streamerRateRowsPerS),
    });
  }
  const port = plan.collectorPortBase + ordinal - 1;
  return spec(plan, `collector-${ordinal}`, kind, "services/collector/main.ts", port, {
    COLLECTOR_PORT: String(port),
    BROKER_URL: brokerUrl(plan),
    CLICKHOUSE_URL: clickhouseUrl(plan),
    // Rows visible within a few hundred ms on a laptop; inserts are grouped and paced anyway.
    COLLECTOR_LINGER_MS: "100",
  });
}
