import { describe, expect, test } from "bun:test";
import { exporterTargets, StreamerConfig } from "../../../services/streamer/config.ts";
import { ConfigError, loadConfig } from "../../../src/config/env.ts";

describe("StreamerConfig", () => {
  test("defaults: the sample CSV in loop mode, unlimited rate, topic telemetry, group streamers", () => {
    const config = loadConfig(StreamerConfig, {});
    expect(config).toMatchObject({
      BROKER_URL: "http://127.0.0.1:9092",
      STREAMER_PORT: 9500,
      STREAMER_SOURCE: "csv",
      STREAMER_MODE: "loop",
      STREAMER_RATE_ROWS_PER_S: 0,
      STREAMER_TOPIC: "telemetry",
      STREAMER_GROUP: "streamers",
    });
    expect(config.STREAMER_CSV_PATH.endsWith("data/dcgm_metrics_20250718_134233.csv")).toBe(true);
    expect(config.STREAMER_SESSION_TIMEOUT_MS).toBeGreaterThan(config.STREAMER_HEARTBEAT_MS * 3);
  });

  test("bad values name the variable", () => {
    expect(() => loadConfig(StreamerConfig, { STREAMER_MODE: "twice" })).toThrow(ConfigError);
    expect(() => loadConfig(StreamerConfig, { STREAMER_RATE_ROWS_PER_S: "-1" })).toThrow("STREAMER_RATE_ROWS_PER_S");
    expect(() => loadConfig(StreamerConfig, { STREAMER_BATCH_ROWS: "100001" })).toThrow("STREAMER_BATCH_ROWS");
    expect(() => loadConfig(StreamerConfig, { BROKER_URL: "broker:9092" })).toThrow("BROKER_URL");
  });

  test("exporter URLs are split on commas, blanks dropped", () => {
    const config = loadConfig(StreamerConfig, {
      STREAMER_EXPORTER_URLS: " http://a:9400/metrics ,, http://b:9400/metrics ",
    });
    expect(exporterTargets(config)).toEqual(["http://a:9400/metrics", "http://b:9400/metrics"]);
  });
});
