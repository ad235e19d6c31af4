import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { TelemetryStoreConfig } from "../../../src/clickhouse/config.ts";
import { openTelemetryStore } from "../../../src/clickhouse/connect.ts";
import { insertDatapoints } from "../../../src/clickhouse/datapoints-insert.ts";
import { getGpu } from "../../../src/clickhouse/gpu-queries.ts";
import { loadConfig } from "../../../src/config/env.ts";
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

  test("with migrations off it does not create anything", async () => {
    const config = loadConfig(TelemetryStoreConfig, {
      ...clickhouse.serviceEnv(),
      CLICKHOUSE_DATABASE: "not_created",
      CLICKHOUSE_MIGRATE_ON_START: "false",
    });
    const client = await openTelemetryStore({ config, clock: () => Date.now() });
    try {
      await expect(getGpu(client, "GPU-open")).rejects.toThrow(/not_created/);
    } finally {
      await client.close();
    }
  });
});
