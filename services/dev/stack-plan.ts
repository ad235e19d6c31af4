import { join, resolve } from "node:path";
import { parserHeaderBytesFlag } from "../../src/http/request-limits.ts";
import { type DevSecrets, devTokenDirectory, devTokenFiles } from "./dev-secrets.ts";
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
  /**
   * Generated under the data directory (dev-secrets.ts) and handed to the processes
   * that need them: tokens as file paths (the files stay the only copy), the
   * ClickHouse password and cursor key as settings.
   */
  secrets: DevSecrets;
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
    command: [bun, parserHeaderBytesFlag, join(root, entry)],
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
    CLICKHOUSE_EMBEDDED_PASSWORD: plan.secrets.clickhousePassword,
  });
}

/** A role's token file under the secrets directory. */
const tokenFile = (plan: StackPlan, role: keyof typeof devTokenFiles) =>
  join(plan.secrets.directory, devTokenFiles[role]);

export function brokerSpec(plan: StackPlan): ProcessSpec {
  return spec(plan, "broker", "broker", "brokers/main.ts", plan.brokerPort, {
    BROKER_PORT: String(plan.brokerPort),
    BROKER_DATA_DIR: join(plan.dataDir, "broker"),
    BROKER_TOKENS_DIR: devTokenDirectory(plan.secrets, "broker"),
  });
}

/** Scalable processes the API probes for its pipeline page: every slot the stack may start. */
export const scalableSlotsMax = 10;

export function apiSpec(plan: StackPlan): ProcessSpec {
  return spec(plan, "api", "api", "services/api/main.ts", plan.apiPort, {
    API_PORT: String(plan.apiPort),
    CLICKHOUSE_URL: clickhouseUrl(plan),
    BROKER_URL: brokerUrl(plan),
    BROKER_TOKEN_FILE: tokenFile(plan, "brokerApi"),
    API_PEER_URLS: peerUrls(plan),
    CLICKHOUSE_PASSWORD: plan.secrets.clickhousePassword,
    API_CURSOR_KEY: plan.secrets.apiCursorKey,
    // Open on 127.0.0.1 so a browser and curl need nothing; the read token works too.
    API_READ_OPEN: "true",
    API_TOKENS_DIR: devTokenDirectory(plan.secrets, "api"),
  });
}

function peerUrls(plan: StackPlan): string {
  const peers = [`clickhouse=${clickhouseUrl(plan)}/ready`, `broker=${brokerUrl(plan)}`];
  for (let ordinal = 1; ordinal <= scalableSlotsMax; ordinal += 1) {
    peers.push(`streamer-${ordinal}=http://127.0.0.1:${plan.streamerPortBase + ordinal - 1}`);
    peers.push(`collector-${ordinal}=http://127.0.0.1:${plan.collectorPortBase + ordinal - 1}`);
  }
  return peers.join(",");
}

/** Streamer or collector number `ordinal` (1-based); each gets its own port. */
export function scalableSpec(plan: StackPlan, kind: ScalableKind, ordinal: number): ProcessSpec {
  if (kind === "streamer") {
    const port = plan.streamerPortBase + ordinal - 1;
    return spec(plan, `streamer-${ordinal}`, kind, "services/streamer/main.ts", port, {
      STREAMER_PORT: String(port),
      BROKER_URL: brokerUrl(plan),
      BROKER_TOKEN_FILE: tokenFile(plan, "brokerStreamer"),
      STREAMER_TOKENS_DIR: devTokenDirectory(plan.secrets, "streamer"),
      STREAMER_CSV_PATH: join(root, "data", "dcgm_metrics_20250718_134233.csv"),
      STREAMER_RATE_ROWS_PER_S: String(plan.streamerRateRowsPerS),
    });
  }
  const port = plan.collectorPortBase + ordinal - 1;
  return spec(plan, `collector-${ordinal}`, kind, "services/collector/main.ts", port, {
    COLLECTOR_PORT: String(port),
    BROKER_URL: brokerUrl(plan),
    BROKER_TOKEN_FILE: tokenFile(plan, "brokerCollector"),
    CLICKHOUSE_URL: clickhouseUrl(plan),
    CLICKHOUSE_PASSWORD: plan.secrets.clickhousePassword,
    // Rows visible within a few hundred ms on a laptop; inserts are grouped and paced anyway.
    COLLECTOR_LINGER_MS: "100",
  });
}
