import { describe, expect, test } from "bun:test";
import { StreamerConfig } from "../../../services/streamer/config.ts";
import { discoveryFromConfig } from "../../../services/streamer/discovery/discovery-from-config.ts";
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

  test("exporter URLs are split on commas, blanks dropped, sorted; a bad one names the variable", async () => {
    const config = loadConfig(StreamerConfig, {
      STREAMER_SOURCE: "dcgm-exporter",
      STREAMER_EXPORTER_URLS: " http://b:9400/metrics ,, http://a:9400/metrics ",
    });
    const plan = discoveryFromConfig(config);
    expect(plan.refreshMs).toBe(0);
    const targets = await plan.discover(new AbortController().signal);
    expect(targets.map((target) => target.url)).toEqual(["http://a:9400/metrics", "http://b:9400/metrics"]);
    const bad = loadConfig(StreamerConfig, { STREAMER_EXPORTER_URLS: "http://a:9400/metrics, ftp://b/x" });
    expect(() => discoveryFromConfig(bad)).toThrow(/^STREAMER_EXPORTER_URLS: "ftp:\/\/b\/x" must be http or https/);
    expect(() => discoveryFromConfig(loadConfig(StreamerConfig, { STREAMER_EXPORTER_URLS: " , " }))).toThrow(
      ConfigError,
    );
  });

  test("Kubernetes discovery outside a pod needs an API URL and a namespace, and checks the port", () => {
    const base = {
      STREAMER_EXPORTER_DISCOVERY: "endpointslices",
      STREAMER_KUBERNETES_SERVICE_ACCOUNT_DIR: "/nonexistent",
    };
    expect(() => discoveryFromConfig(loadConfig(StreamerConfig, base))).toThrow(/KUBERNETES_SERVICE_HOST is not set/);
    const withApi = { ...base, STREAMER_KUBERNETES_API_URL: "http://127.0.0.1:1" };
    expect(() => discoveryFromConfig(loadConfig(StreamerConfig, withApi))).toThrow(/STREAMER_EXPORTER_NAMESPACE/);
    const named = { ...withApi, STREAMER_EXPORTER_NAMESPACE: "gpu-operator" };
    expect(discoveryFromConfig(loadConfig(StreamerConfig, named)).describe).toEqual({
      discovery: "endpointslices",
      namespace: "gpu-operator",
      port: "9400",
      service: "nvidia-dcgm-exporter",
    });
    for (const port of ["0", "70000", "Metrics_Port"]) {
      expect(() => discoveryFromConfig(loadConfig(StreamerConfig, { ...named, STREAMER_EXPORTER_PORT: port }))).toThrow(
        ConfigError,
      );
    }
    const inCluster = {
      ...base,
      KUBERNETES_SERVICE_HOST: "fd00::1",
      KUBERNETES_SERVICE_PORT: "6443",
      STREAMER_EXPORTER_NAMESPACE: "*",
    };
    expect(
      discoveryFromConfig(loadConfig(StreamerConfig, { ...inCluster, STREAMER_EXPORTER_DISCOVERY: "pods" })).describe,
    ).toEqual({
      discovery: "pods",
      namespace: "*",
      port: "9400",
      labelSelector: "app=nvidia-dcgm-exporter",
    });
  });
});
