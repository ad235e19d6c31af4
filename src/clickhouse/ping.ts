import type { ClickHouseClient } from "@clickhouse/client";

/** True when ClickHouse answers; readiness probes use it. Never throws. */
export async function ping(client: ClickHouseClient): Promise<boolean> {
  try {
    const result = await client.ping();
    return result.success;
  } catch {
    return false;
  }
}
