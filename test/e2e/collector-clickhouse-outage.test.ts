import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClickHouse } from "../../src/clickhouse/client.ts";
import { startCollector, waitReady, waitUntil } from "../services/collector/collector-process.ts";
import {
  committedOffsets,
  createTopic,
  duplicateCount,
  produceRecords,
  recentBaseMs,
  rowCount,
  wireRecords,
} from "../services/collector/telemetry-fixture.ts";
import { type BrokerProcess, startBroker } from "../support/broker-process.ts";
import { type EmbeddedClickHouse, startEmbeddedClickHouse } from "../support/embedded-clickhouse.ts";
import { freePort } from "../support/free-port.ts";
import { metricValue } from "../support/prometheus.ts";

let broker: BrokerProcess;
let clickhouse: EmbeddedClickHouse | undefined;
const dataDir = mkdtempSync(join(tmpdir(), "collector-outage-"));

beforeAll(async () => {
  broker = await startBroker();
});

afterAll(async () => {
  await Promise.all([broker?.stop(), clickhouse?.stop()]);
  rmSync(dataDir, { recursive: true, force: true });
});

test("ClickHouse down for a while: not ready, nothing committed, SIGTERM still exits 0, nothing lost once it returns", async () => {
  const topic = "telemetry-outage";
  await createTopic(broker.url, topic, 2);
  const port = await freePort();
  const password = "outage-password";
  const startClickHouse = () =>
    startEmbeddedClickHouse({ dataDir, password, env: { CLICKHOUSE_EMBEDDED_PORT: String(port) } });
  clickhouse = await startClickHouse();
  const baseMs = recentBaseMs();
  const start = () =>
    startCollector({
      brokerUrl: broker.url,
      clickhouseUrl: `http://127.0.0.1:${port}`,
      clickhousePassword: password,
      database: "outage",
      env: {
        COLLECTOR_TOPIC: topic,
        COLLECTOR_GROUP: "outage",
        COLLECTOR_BATCH_ROWS_MAX: "500",
        COLLECTOR_SHUTDOWN_TIMEOUT_MS: "5000",
      },
    });
  const client = () =>
    createClickHouse({
      url: `http://127.0.0.1:${port}`,
      username: "default",
      password,
      database: "outage",
      requestTimeoutMs: 10_000,
    });
  const committedSum = async () =>
    [...(await committedOffsets(broker.url, "outage", topic)).values()].reduce((sum, offset) => sum + offset, 0);

  const first = await start();
  await waitReady(first);
  await produceRecords(broker.url, topic, wireRecords(0, 2_000, baseMs));
  const before = client();
  await waitUntil(
    async () => (await rowCount(before)) === 2_000,
    async () => `rows ${await rowCount(before)}`,
  );
  await before.close();
  await waitUntil(
    async () => (await committedSum()) === 2_000,
    () => "offsets of the first 2,000 records not committed",
  );

  // Frozen, ClickHouse answers nothing: /ready still answers, at once, not ready.
  clickhouse.kill("SIGSTOP");
  try {
    for (let probe = 0; probe < 3; probe += 1) {
      const startedMs = performance.now();
      const ready = await fetch(`${first.url}/ready`, { signal: AbortSignal.timeout(5_000) });
      expect(performance.now() - startedMs).toBeLessThan(2_000);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ checks: { clickhouse: false, broker: true } });
    }
  } finally {
    clickhouse.kill("SIGCONT");
  }
  await waitReady(first);

  await clickhouse.stop();
  await produceRecords(broker.url, topic, wireRecords(2_000, 3_000, baseMs));
  await waitUntil(
    async () => (await fetch(`${first.url}/ready`)).status === 503,
    () => "collector still ready with ClickHouse down",
  );
  await waitUntil(
    async () =>
      (metricValue(await (await fetch(`${first.url}/metrics`)).text(), "collector_insert_retries_total") ?? 0) >= 2,
    () => "no insert retries while ClickHouse is down",
  );
  expect(await committedSum()).toBe(2_000);
  const stoppingMs = performance.now();
  expect(await first.stop()).toBe(0);
  expect(performance.now() - stoppingMs).toBeLessThan(5_000);
  expect(await committedSum()).toBe(2_000);

  const second = await start();
  try {
    await Bun.sleep(500);
    expect((await fetch(`${second.url}/ready`)).status).toBe(503);
    clickhouse = await startClickHouse();
    const after = client();
    await waitUntil(
      async () => (await rowCount(after).catch(() => 0)) >= 5_000,
      async () => `rows ${await rowCount(after).catch(() => -1)}`,
    );
    await waitReady(second);
    await waitUntil(
      async () => (await committedSum()) === 5_000,
      async () => `committed ${await committedSum()}`,
    );
    expect(await rowCount(after)).toBe(5_000);
    expect(await duplicateCount(after)).toBe(0);
    await after.close();
  } finally {
    expect(await second.stop()).toBe(0);
  }
}, 60_000);
