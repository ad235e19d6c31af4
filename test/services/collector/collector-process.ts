/**
 * Runs services/collector/main.ts as a real child process against a broker and a
 * ClickHouse endpoint, on an OS-picked ops port (read from its `listening` line).
 */
import { join } from "node:path";
import { spawnService, waitUntil } from "../../support/service-process.ts";

export { waitUntil };

export interface CollectorProcess {
  /** Base URL of /health, /ready and /metrics. */
  url: string;
  pid: number;
  exited: Promise<number | null>;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
  kill(signal?: NodeJS.Signals): void;
  logs(): string[];
  /** Resolves with the first log line containing `text`. */
  waitForLog(text: string, timeoutMs?: number): Promise<string>;
}

const mainPath = join(import.meta.dir, "..", "..", "..", "services", "collector", "main.ts");

export async function startCollector(options: {
  brokerUrl: string;
  clickhouseUrl: string;
  database: string;
  env?: Record<string, string>;
}): Promise<CollectorProcess> {
  const collector = await spawnService({
    name: "collector",
    entry: mainPath,
    env: {
      BROKER_URL: options.brokerUrl,
      CLICKHOUSE_URL: options.clickhouseUrl,
      CLICKHOUSE_DATABASE: options.database,
      COLLECTOR_PORT: "0",
      COLLECTOR_LINGER_MS: "100",
      COLLECTOR_RETRY_BACKOFF_MS_MIN: "50",
      COLLECTOR_RETRY_BACKOFF_MS_MAX: "500",
      ...options.env,
    },
  });
  return {
    url: collector.url,
    pid: collector.pid,
    exited: collector.exited,
    stop: () => collector.stop(),
    kill: collector.kill,
    logs: collector.logs,
    waitForLog: collector.waitForLog,
  };
}

/** Waits until the collector's /ready answers 200 (migrations applied, group joined). */
export async function waitReady(collector: CollectorProcess, timeoutMs = 30_000): Promise<void> {
  await waitUntil(
    async () => (await fetch(`${collector.url}/ready`).catch(() => undefined))?.status === 200,
    () => `collector at ${collector.url} not ready:\n${collector.logs().slice(-20).join("\n")}`,
    timeoutMs,
  );
}
