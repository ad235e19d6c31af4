import { describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { DevConfig, devStreamerSource, flagsToEnv } from "../../../services/dev/config.ts";
import { loadConfig } from "../../../src/config/env.ts";

describe("dev stack flags", () => {
  test("flags map to DEV_* variables in both --x=v and --x v forms", () => {
    expect(flagsToEnv(["--streamers=3", "--collectors", "1", "--rate", "2000", "--reset"])).toEqual({
      DEV_STREAMERS: "3",
      DEV_COLLECTORS: "1",
      DEV_STREAMER_RATE_ROWS_PER_S: "2000",
      DEV_RESET: "true",
    });
  });

  test("an unknown flag or a missing value is an error naming it", () => {
    expect(() => flagsToEnv(["--workers=2"])).toThrow(/unknown flag --workers=2/);
    expect(() => flagsToEnv(["--streamers"])).toThrow(/needs a value/);
  });

  test("--csv names the CSV to replay; --exporter-url, repeatable, makes the streamers scrape instead", () => {
    expect(flagsToEnv(["--csv", "exports/my-dcgm.csv"])).toEqual({ DEV_CSV_PATH: "exports/my-dcgm.csv" });
    expect(
      flagsToEnv(["--exporter-url", "http://gpu-node-1:9400/metrics", "--exporter-url=http://gpu-node-2:9400/metrics"]),
    ).toEqual({ DEV_EXPORTER_URLS: "http://gpu-node-1:9400/metrics,http://gpu-node-2:9400/metrics" });
    expect(() => flagsToEnv(["--csv", "a.csv", "--exporter-url", "http://n:9400/metrics"])).toThrow(
      /--csv and --exporter-url both pick/,
    );
    expect(() => flagsToEnv(["--exporter-url", "gpu-node-1:9400"])).toThrow(/not an http\(s\) URL/);
    expect(() => flagsToEnv(["--exporter-url", "http://a:1/m,http://b:1/m"])).toThrow(/one URL per flag/);
    expect(() => flagsToEnv(["--csv", "--reset"])).toThrow(/--csv needs a value/);
    expect(() => flagsToEnv(["--exporter-url"])).toThrow(/needs a value/);
  });

  test("the source: the CSV, resolved and checked, unless exporter URLs are given", () => {
    const config = loadConfig(DevConfig, {});
    const sample = devStreamerSource(config, () => true);
    expect(sample).toEqual({ csvPath: resolve("data/dcgm_metrics_20250718_134233.csv"), exporterUrls: [] });
    expect(() => devStreamerSource({ ...config, DEV_CSV_PATH: "missing.csv" }, () => false)).toThrow(
      /^DEV_CSV_PATH: .*missing\.csv does not exist/,
    );
    const scraping = devStreamerSource(
      { ...config, DEV_EXPORTER_URLS: "http://a:9400/metrics, http://b:9400/metrics" },
      () => false,
    );
    expect(scraping.exporterUrls).toEqual(["http://a:9400/metrics", "http://b:9400/metrics"]);
  });

  test("counts above 10 are refused by the config schema", () => {
    expect(() => loadConfig(DevConfig, { DEV_COLLECTORS: "11" })).toThrow(/^DEV_COLLECTORS: .*max 10/);
    expect(loadConfig(DevConfig, {}).DEV_STREAMERS).toBe(2);
  });
});
