import { resolve } from "node:path";
import { Type } from "@sinclair/typebox";
import { CommonConfig } from "../../src/config/common.ts";
import { Setting } from "../../src/config/settings.ts";

const port = (defaultPort: number, description: string) =>
  Setting.integer({ default: defaultPort, minimum: 1, maximum: 65_535, description });

/** The dev stack: which processes, how many, where their data and ports are. */
export const DevConfig = Type.Object({
  ...CommonConfig.properties,
  DEV_DATA_DIR: Setting.string({ default: ".data", description: "git-ignored directory for all dev data and logs" }),
  DEV_RESET: Setting.boolean({ default: false, description: "delete DEV_DATA_DIR before starting" }),
  DEV_STREAMERS: Setting.integer({ default: 2, minimum: 0, maximum: 10, description: "streamer processes" }),
  DEV_COLLECTORS: Setting.integer({ default: 2, minimum: 0, maximum: 10, description: "collector processes" }),
  DEV_STREAMER_RATE_ROWS_PER_S: Setting.integer({
    default: 10_000,
    minimum: 0,
    maximum: 10_000_000,
    description:
      "rows/s of the stream, shared by the dev streamers (their one schedule); 0 = as fast as the broker accepts, without a schedule (the embedded ClickHouse then falls behind and the backlog grows)",
  }),
  DEV_CSV_PATH: Setting.string({
    default: "data/dcgm_metrics_20250718_134233.csv",
    minLength: 1,
    description: "CSV the streamers replay (a DCGM export of your own; relative to the working directory)",
  }),
  DEV_EXPORTER_URLS: Setting.string({
    default: "",
    description:
      "comma-separated dcgm-exporter /metrics URLs: the streamers scrape these (dividing them between them) instead of replaying the CSV",
  }),
  DEV_CLICKHOUSE_PORT: port(8123, "embedded ClickHouse HTTP port"),
  DEV_BROKER_PORT: port(9092, "broker HTTP port"),
  DEV_API_PORT: port(8080, "API gateway port"),
  DEV_STREAMER_PORT_BASE: port(9500, "first streamer's HTTP port (+1 each)"),
  DEV_COLLECTOR_PORT_BASE: port(9600, "first collector's HTTP port (+1 each)"),
  DEV_CONTROL_PORT: port(8099, "dev stack control endpoint (status, scaling)"),
  DEV_STATUS_INTERVAL_MS: Setting.integer({
    default: 1_000,
    minimum: 200,
    maximum: 60_000,
    description: "status panel refresh interval",
  }),
});

const usage =
  "use --streamers N, --collectors N, --rate ROWS_PER_S, --csv PATH, --exporter-url URL (repeatable), --data-dir D, --reset";

/** Flags that take a value, and the variable each sets. */
const valueFlags: Record<string, string> = {
  streamers: "DEV_STREAMERS",
  collectors: "DEV_COLLECTORS",
  "data-dir": "DEV_DATA_DIR",
  rate: "DEV_STREAMER_RATE_ROWS_PER_S",
  csv: "DEV_CSV_PATH",
  "exporter-url": "DEV_EXPORTER_URLS",
};

/**
 * `--streamers=3 --collectors 1 --reset` → the matching DEV_* variables. `--exporter-url`
 * may be given several times (the URLs are joined); it and `--csv` pick the streamers'
 * source, so both at once is an error.
 */
export function flagsToEnv(argv: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  const exporterUrls: string[] = [];
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index] ?? "";
    if (arg === "--reset") {
      env.DEV_RESET = "true";
      continue;
    }
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    const flag = match?.[1] ?? "";
    const name = valueFlags[flag];
    if (match === null || name === undefined) throw new Error(`unknown flag ${arg}; ${usage}`);
    const value = match[2] ?? argv[index + 1];
    if (match[2] === undefined) index += 1;
    if (value === undefined || (match[2] === undefined && value.startsWith("--"))) {
      throw new Error(`flag ${arg} needs a value`);
    }
    if (flag === "exporter-url") exporterUrls.push(exporterUrl(value));
    else env[name] = value;
  }
  if (exporterUrls.length > 0) env.DEV_EXPORTER_URLS = exporterUrls.join(",");
  if (env.DEV_CSV_PATH !== undefined && exporterUrls.length > 0) {
    throw new Error("--csv and --exporter-url both pick the streamers' source: give one of them");
  }
  return env;
}

function exporterUrl(value: string): string {
  const url = value.trim();
  if (!URL.canParse(url) || !["http:", "https:"].includes(new URL(url).protocol)) {
    throw new Error(`--exporter-url ${value}: not an http(s) URL, e.g. http://gpu-node-1:9400/metrics`);
  }
  if (url.includes(",")) throw new Error(`--exporter-url ${value}: one URL per flag`);
  return url;
}

/** What the streamers read: the CSV (its absolute path, which must exist) or the exporter URLs. */
export function devStreamerSource(
  config: { DEV_CSV_PATH: string; DEV_EXPORTER_URLS: string },
  exists: (path: string) => boolean,
): { csvPath: string; exporterUrls: string[] } {
  const exporterUrls = config.DEV_EXPORTER_URLS.split(",")
    .map((url) => url.trim())
    .filter((url) => url.length > 0);
  const csvPath = resolve(config.DEV_CSV_PATH);
  if (exporterUrls.length === 0 && !exists(csvPath)) {
    throw new Error(`DEV_CSV_PATH: ${csvPath} does not exist (--csv PATH names the CSV to replay)`);
  }
  return { csvPath, exporterUrls };
}
