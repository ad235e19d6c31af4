import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { createClickHouse } from "../../../src/clickhouse/client.ts";
import { schemaStatus } from "../../../src/clickhouse/migrations.ts";
import { retentionDrift } from "../../../src/clickhouse/retention.ts";
import { type EmbeddedClickHouse, startEmbeddedClickHouse } from "../../support/embedded-clickhouse.ts";
import { freePort } from "../../support/free-port.ts";

const mainPath = join(import.meta.dir, "..", "..", "..", "services", "migrate", "main.ts");
let clickhouse: EmbeddedClickHouse;

beforeAll(async () => {
  clickhouse = await startEmbeddedClickHouse();
});
afterAll(async () => {
  await clickhouse?.stop();
});

async function runMigrate(env: Record<string, string>): Promise<{ code: number; lines: { msg: string }[] }> {
  const child = Bun.spawn([process.execPath, mainPath], {
    env: { ...process.env, LOG_FORMAT: "json", LOG_LEVEL: "info", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, out] = await Promise.all([child.exited, new Response(child.stdout).text()]);
  const lines = out
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as { msg: string });
  return { code, lines };
}

test("migrate brings the database to the schema with the retention given, and changes the TTL when it changes", async () => {
  const env = { ...clickhouse.serviceEnv(), CLICKHOUSE_DATABASE: "migrated", TELEMETRY_RETENTION_DAYS: "90" };
  const first = await runMigrate(env);
  expect(first.code).toBe(0);
  expect(first.lines.find((line) => line.msg === "migrated")).toMatchObject({
    database: "migrated",
    retentionDays: 90,
  });
  const admin = createClickHouse({
    url: clickhouse.url,
    username: "default",
    password: clickhouse.password,
    database: "default",
    requestTimeoutMs: 30_000,
  });
  try {
    expect((await schemaStatus({ client: admin, database: "migrated" })).pending).toEqual([]);
    expect(await retentionDrift({ client: admin, database: "migrated", retentionDays: 90 })).toEqual([]);
    const second = await runMigrate({ ...env, TELEMETRY_RETENTION_DAYS: "14" });
    expect(second.code).toBe(0);
    expect(second.lines.some((line) => line.msg === "retention changed")).toBe(true);
    expect(await retentionDrift({ client: admin, database: "migrated", retentionDays: 14 })).toEqual([]);
  } finally {
    await admin.close();
  }
}, 60_000);

test("an unreachable ClickHouse is retried until MIGRATE_WAIT_MS, then exit 1 naming the URL", async () => {
  const url = `http://127.0.0.1:${await freePort()}`;
  const started = performance.now();
  const run = await runMigrate({ CLICKHOUSE_URL: url, CLICKHOUSE_PASSWORD: "x", MIGRATE_WAIT_MS: "1500" });
  expect(run.code).toBe(1);
  expect(run.lines.filter((line) => line.msg === "ClickHouse not ready; retrying").length).toBeGreaterThan(0);
  expect(run.lines.at(-1)).toMatchObject({ msg: "migration failed", url });
  // It gives up once the next wait would end past the deadline.
  expect(performance.now() - started).toBeLessThan(10_000);
}, 30_000);

test("a bad setting exits 2 naming it", async () => {
  const run = Bun.spawnSync([process.execPath, mainPath], {
    env: { ...process.env, TELEMETRY_RETENTION_DAYS: "0" },
    stderr: "pipe",
  });
  expect(run.exitCode).toBe(2);
  expect(run.stderr.toString()).toContain("TELEMETRY_RETENTION_DAYS");
});
