import { describe, expect, test } from "bun:test";
import { TelemetryStoreConfig } from "../../../src/clickhouse/config.ts";
import { loadConfig } from "../../../src/config/env.ts";

describe("TelemetryStoreConfig", () => {
  test("defaults: database telemetry, 30 days, migrate on start", () => {
    const config = loadConfig(TelemetryStoreConfig, {});
    expect(config.CLICKHOUSE_DATABASE).toBe("telemetry");
    expect(config.TELEMETRY_RETENTION_DAYS).toBe(30);
    expect(config.CLICKHOUSE_MIGRATE_ON_START).toBe(true);
    expect(config.CLICKHOUSE_URL).toBe("http://127.0.0.1:8123");
  });

  test("the database must be an identifier, since DDL text carries it", () => {
    expect(loadConfig(TelemetryStoreConfig, { CLICKHOUSE_DATABASE: "gpu_telemetry_2" }).CLICKHOUSE_DATABASE).toBe(
      "gpu_telemetry_2",
    );
    for (const bad of ["tele-metry", "x;DROP DATABASE y", "1st", "a".repeat(65)]) {
      expect(() => loadConfig(TelemetryStoreConfig, { CLICKHOUSE_DATABASE: bad })).toThrow(/^CLICKHOUSE_DATABASE:/);
    }
  });

  test("retention is a whole number of days within bounds", () => {
    expect(loadConfig(TelemetryStoreConfig, { TELEMETRY_RETENTION_DAYS: "7" }).TELEMETRY_RETENTION_DAYS).toBe(7);
    for (const bad of ["0", "3651", "1.5", "week"]) {
      expect(() => loadConfig(TelemetryStoreConfig, { TELEMETRY_RETENTION_DAYS: bad })).toThrow(
        /^TELEMETRY_RETENTION_DAYS:/,
      );
    }
  });
});
