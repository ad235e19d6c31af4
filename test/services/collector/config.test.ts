import { expect, test } from "bun:test";
import { CollectorConfig } from "../../../services/collector/config.ts";
import { loadConfig } from "../../../src/config/env.ts";

test("defaults: the collectors group on telemetry, 100,000 rows or 1 s a batch, fault injection off", () => {
  const config = loadConfig(CollectorConfig, {});
  expect(config).toMatchObject({
    BROKER_URL: "http://127.0.0.1:9092",
    CLICKHOUSE_URL: "http://127.0.0.1:8123",
    CLICKHOUSE_DATABASE: "telemetry",
    COLLECTOR_PORT: 9600,
    COLLECTOR_GROUP: "collectors",
    COLLECTOR_TOPIC: "telemetry",
    COLLECTOR_DEAD_LETTER_TOPIC: "telemetry.dlq",
    COLLECTOR_BATCH_ROWS_MAX: 100_000,
    COLLECTOR_LINGER_MS: 1_000,
    COLLECTOR_FAULT_EXIT_AFTER_INSERTS: 0,
    LOG_LEVEL: "info",
  });
});

test("batch size and linger have explicit maxima", () => {
  expect(() => loadConfig(CollectorConfig, { COLLECTOR_BATCH_ROWS_MAX: "500001" })).toThrow(
    /^COLLECTOR_BATCH_ROWS_MAX: .*max 500000/,
  );
  expect(() => loadConfig(CollectorConfig, { COLLECTOR_BATCH_ROWS_MAX: "0" })).toThrow(/^COLLECTOR_BATCH_ROWS_MAX:/);
  expect(() => loadConfig(CollectorConfig, { COLLECTOR_LINGER_MS: "60001" })).toThrow(
    /^COLLECTOR_LINGER_MS: .*max 60000/,
  );
  expect(loadConfig(CollectorConfig, { COLLECTOR_PORT: "0", COLLECTOR_LINGER_MS: "0" })).toMatchObject({
    COLLECTOR_PORT: 0,
    COLLECTOR_LINGER_MS: 0,
  });
});
