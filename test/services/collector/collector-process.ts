/**
 * Runs services/collector/main.ts as a real child process against a broker and a
 * ClickHouse endpoint, on an OS-picked ops port (read from its `listening` line).
 */
import { join } from "node:path";
import { type ServiceProcess, spawnService, waitUntil } from "../../support/service-process.ts";
import { testBrokerToken } from "../../support/test-tokens.ts";

export { waitUntil };

/** A running collector: the shared child-process handle. */
export type CollectorProcess = ServiceProcess;

const mainPath = join(import.meta.dir, "..", "..", "..", "services", "collector", "main.ts");

export async function startCollector(options: {
  brokerUrl: string;
  clickhouseUrl: string;
  /** The embedded endpoint's password (EmbeddedClickHouse.password). */
  clickhousePassword: string;
  database: string;
  env?: Record<string, string>;
}): Promise<CollectorProcess> {
  return await spawnService({
    name: "collector",
    entry: mainPath,
    env: {
      BROKER_URL: options.brokerUrl,
      BROKER_TOKEN: testBrokerToken,
      CLICKHOUSE_URL: options.clickhouseUrl,
      CLICKHOUSE_PASSWORD: options.clickhousePassword,
      CLICKHOUSE_DATABASE: options.database,
      COLLECTOR_PORT: "0",
      COLLECTOR_LINGER_MS: "100",
      COLLECTOR_RETRY_BACKOFF_MS_MIN: "50",
      COLLECTOR_RETRY_BACKOFF_MS_MAX: "500",
      ...options.env,
    },
  });
}

/** Waits until the collector's /ready answers 200 (migrations applied, group joined). */
export async function waitReady(collector: CollectorProcess, timeoutMs = 30_000): Promise<void> {
  await waitUntil(
    async () => (await fetch(`${collector.url}/ready`).catch(() => undefined))?.status === 200,
    () => `collector at ${collector.url} not ready:\n${collector.logs().slice(-20).join("\n")}`,
    timeoutMs,
  );
}
