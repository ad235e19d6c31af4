import type { ClickHouseClient } from "@clickhouse/client";
import { createClickHouse } from "../../../src/clickhouse/client.ts";
import { migrate } from "../../../src/clickhouse/migrations.ts";
import type { TelemetryPoint } from "../../../src/domain/telemetry.ts";
import { type EmbeddedClickHouse, startEmbeddedClickHouse } from "../../support/embedded-clickhouse.ts";

/** A real embedded ClickHouse subprocess and clients on it; one per test file. */
export interface ClickHouseFixture {
  clickhouse: EmbeddedClickHouse;
  /** Client on "default": for migrations and cross-database checks. */
  admin: ClickHouseClient;
  clientFor(database: string): ClickHouseClient;
  /** A fresh migrated database and a client whose default database it is. */
  migratedDatabase(name: string, retentionDays?: number): Promise<ClickHouseClient>;
  stop(): Promise<void>;
}

export async function startClickHouseFixture(): Promise<ClickHouseFixture> {
  const clickhouse = await startEmbeddedClickHouse();
  const clients: ClickHouseClient[] = [];
  const clientFor = (database: string) => {
    const client = createClickHouse({
      url: clickhouse.url,
      username: "default",
      password: clickhouse.password,
      database,
      requestTimeoutMs: 60_000,
    });
    clients.push(client);
    return client;
  };
  const admin = clientFor("default");
  return {
    clickhouse,
    admin,
    clientFor,
    async migratedDatabase(name, retentionDays = 30) {
      await migrate({ client: admin, database: name, retentionDays, clock: () => Date.now() });
      return clientFor(name);
    },
    async stop() {
      await Promise.all(clients.map((client) => client.close()));
      await clickhouse.stop();
    },
  };
}

/** A datapoint with plausible defaults; `ts` must be within the retention or TTL drops it. */
export function point(fields: Partial<TelemetryPoint> & Pick<TelemetryPoint, "ts">): TelemetryPoint {
  return {
    source_ts: fields.ts - 500,
    uuid: "GPU-00000000-0000-0000-0000-000000000001",
    hostname: "host-a",
    gpu_index: 0,
    device: "nvidia0",
    model: "NVIDIA H100 80GB HBM3",
    metric: "DCGM_FI_DEV_GPU_UTIL",
    value: 0,
    container: "",
    pod: "",
    namespace: "",
    labels: { DCGM_FI_DRIVER_VERSION: "535.129.03" },
    ...fields,
  };
}

/** Count rows of any query returning one `n` column. */
export async function countOf(client: ClickHouseClient, sql: string): Promise<number> {
  const result = await client.query({
    query: sql,
    format: "JSONEachRow",
    clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
  });
  const rows = await result.json<{ n: number }>();
  return rows[0]?.n ?? 0;
}

/** A minute boundary an hour ago: recent enough for the retention, fixed for the test. */
export function recentMinuteMs(): number {
  return Math.floor((Date.now() - 3_600_000) / 60_000) * 60_000;
}
