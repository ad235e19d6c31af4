import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClickHouseLogLevel, createClient } from "@clickhouse/client";
import { type EmbeddedClickHouse, startEmbeddedClickHouse } from "../../support/embedded-clickhouse.ts";
import { waitForMetricValue } from "../../support/prometheus.ts";

const started: EmbeddedClickHouse[] = [];
const dataDirs: string[] = [];

afterEach(async () => {
  for (const instance of started.splice(0)) await instance.stop();
  for (const dir of dataDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function start(dataDir: string): Promise<EmbeddedClickHouse> {
  const instance = await startEmbeddedClickHouse({ dataDir });
  started.push(instance);
  return instance;
}

function freshDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "embedded-clickhouse-lifecycle-"));
  dataDirs.push(dir);
  return dir;
}

async function countRows(instance: EmbeddedClickHouse, table: string): Promise<number> {
  const client = createClient({
    url: instance.url,
    password: instance.password,
    log: { level: ClickHouseLogLevel.OFF },
  });
  try {
    const result = await client.query({ query: `SELECT count() AS n FROM ${table}`, format: "JSONEachRow" });
    const [row] = await result.json<{ n: number }>();
    return Number(row?.n);
  } finally {
    await client.close();
  }
}

async function createAndFill(instance: EmbeddedClickHouse, table: string, rowCount: number): Promise<void> {
  const client = createClient({ url: instance.url, password: instance.password });
  try {
    await client.command({ query: `CREATE TABLE ${table} (id UInt32) ENGINE = MergeTree ORDER BY id` });
    await client.insert({
      table,
      values: Array.from({ length: rowCount }, (_, id) => ({ id })),
      format: "JSONEachRow",
    });
  } finally {
    await client.close();
  }
}

describe("embedded ClickHouse process lifecycle", () => {
  test("data survives a graceful stop and a restart on the same directory", async () => {
    const dataDir = freshDataDir();
    const first = await start(dataDir);
    await createAndFill(first, "kept", 1_000);
    await first.stop();
    expect(await first.exited).toBe(0);

    const second = await start(dataDir);
    expect(await countRows(second, "kept")).toBe(1_000);
  });

  test("an acknowledged insert survives kill -9", async () => {
    const dataDir = freshDataDir();
    const first = await start(dataDir);
    await createAndFill(first, "crashed", 500);
    first.kill();
    await first.exited;

    const second = await start(dataDir);
    expect(await countRows(second, "crashed")).toBe(500);
  });

  test("a second process on the same data directory refuses to start", async () => {
    const dataDir = freshDataDir();
    await start(dataDir);
    const second = startEmbeddedClickHouse({ dataDir, startTimeoutMs: 10_000 });
    await expect(second).rejects.toThrow(/exited with 1[\s\S]*cannot open the chdb data directory/);
  });

  test("SIGTERM lets a running query finish before the process exits 0", async () => {
    const instance = await start(freshDataDir());
    const slow = fetch(`${instance.url}/`, {
      headers: instance.authHeaders(),
      method: "POST",
      body: "SELECT sum(sleepEachRow(0.3)) + 1 AS done FROM numbers(3) FORMAT JSONEachRow",
    });
    await waitForMetricValue(instance.url, "clickhouse_embedded_running_queries", 1);
    const stopping = instance.stop();
    const response = await slow;
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('{"done":1}\n');
    await stopping;
    expect(await instance.exited).toBe(0);
  });
});
