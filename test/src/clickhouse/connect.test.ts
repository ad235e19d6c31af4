import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Writable } from "node:stream";
import { createClickHouse } from "../../../src/clickhouse/client.ts";
import { TelemetryStoreConfig } from "../../../src/clickhouse/config.ts";
import { openTelemetryStore } from "../../../src/clickhouse/connect.ts";
import { insertDatapoints } from "../../../src/clickhouse/datapoints-insert.ts";
import { getGpu } from "../../../src/clickhouse/gpu-queries.ts";
import { SchemaNotCurrentError } from "../../../src/clickhouse/migrations.ts";
import { retentionDrift, retentionTtlColumns } from "../../../src/clickhouse/retention.ts";
import { loadConfig } from "../../../src/config/env.ts";
import { createLogger } from "../../../src/observability/logger.ts";
import { type EmbeddedClickHouse, startEmbeddedClickHouse } from "../../support/embedded-clickhouse.ts";
import { point, recentMinuteMs } from "./fixture.ts";

let clickhouse: EmbeddedClickHouse;

beforeAll(async () => {
  clickhouse = await startEmbeddedClickHouse();
});
afterAll(async () => {
  await clickhouse?.stop();
});

describe("openTelemetryStore", () => {
  test("migrates a missing database and returns a client whose queries use it", async () => {
    const config = loadConfig(TelemetryStoreConfig, { ...clickhouse.serviceEnv(), CLICKHOUSE_DATABASE: "opened" });
    const client = await openTelemetryStore({ config, clock: () => Date.now() });
    try {
      await insertDatapoints(client, [point({ ts: recentMinuteMs(), uuid: "GPU-open" })], { dedupToken: "t/0/0-0" });
      expect((await getGpu(client, "GPU-open"))?.uuid).toBe("GPU-open");
    } finally {
      await client.close();
    }
    const again = await openTelemetryStore({ config, clock: () => Date.now() });
    await again.close();
  });

  test("with migrations off it creates nothing and waits for a current schema", async () => {
    const config = loadConfig(TelemetryStoreConfig, {
      ...clickhouse.serviceEnv(),
      CLICKHOUSE_DATABASE: "not_created",
      CLICKHOUSE_MIGRATE_ON_START: "false",
    });
    await expect(openTelemetryStore({ config, clock: () => Date.now() })).rejects.toThrow(SchemaNotCurrentError);
    const admin = createClickHouse({ ...connectionOf(config), database: "default" });
    try {
      const databases = await (await admin.query({ query: "SHOW DATABASES", format: "JSONEachRow" })).json<{
        name: string;
      }>();
      expect(databases.map((row) => row.name)).not.toContain("not_created");
    } finally {
      await admin.close();
    }
  });

  test("retention is changed only where migrations run: a process with another setting warns and leaves the TTL", async () => {
    const env = { ...clickhouse.serviceEnv(), CLICKHOUSE_DATABASE: "retained" };
    const migrator = loadConfig(TelemetryStoreConfig, { ...env, TELEMETRY_RETENTION_DAYS: "90" });
    await (await openTelemetryStore({ config: migrator, clock: () => Date.now() })).close();
    // An API left at the default 30 days once reset the TTL to 30 at every start (and deleted rows older).
    const lines: { msg: string; configuredDays?: number; tables?: { table: string; days: number }[] }[] = [];
    const log = createLogger({
      service: "test",
      instanceId: "test",
      level: "warn",
      destination: new Writable({
        write: (chunk, _encoding, done) => {
          lines.push(JSON.parse(String(chunk)));
          done();
        },
      }),
    });
    const reader = loadConfig(TelemetryStoreConfig, { ...env, CLICKHOUSE_MIGRATE_ON_START: "false" });
    await (await openTelemetryStore({ config: reader, log, clock: () => Date.now() })).close();
    const admin = createClickHouse({ ...connectionOf(reader), database: "default" });
    try {
      expect(await retentionDrift({ client: admin, database: "retained", retentionDays: 90 })).toEqual([]);
    } finally {
      await admin.close();
    }
    const warning = lines.find((line) => line.msg.startsWith("the tables' retention differs"));
    expect(warning?.configuredDays).toBe(30);
    expect(warning?.tables?.map((table) => table.days)).toEqual(Object.keys(retentionTtlColumns).map(() => 90));
  });
});

function connectionOf(config: TelemetryStoreConfig) {
  return {
    url: config.CLICKHOUSE_URL,
    username: config.CLICKHOUSE_USER,
    password: config.CLICKHOUSE_PASSWORD,
    requestTimeoutMs: config.CLICKHOUSE_REQUEST_TIMEOUT_MS,
  };
}
