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

/** `--streamers=3 --collectors 1 --reset` → the matching DEV_* variables. */
export function flagsToEnv(argv: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  const names: Record<string, string> = {
    streamers: "DEV_STREAMERS",
    collectors: "DEV_COLLECTORS",
    "data-dir": "DEV_DATA_DIR",
    rate: "DEV_STREAMER_RATE_ROWS_PER_S",
  };
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index] ?? "";
    if (arg === "--reset") {
      env.DEV_RESET = "true";
      continue;
    }
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    const name = match === null ? undefined : names[match[1] ?? ""];
    if (match === null || name === undefined)
      throw new Error(
        `unknown flag ${arg}; use --streamers N, --collectors N, --rate ROWS_PER_S, --data-dir D, --reset`,
      );
    const value = match[2] ?? argv[index + 1];
    if (match[2] === undefined) index += 1;
    if (value === undefined) throw new Error(`flag ${arg} needs a value`);
    env[name] = value;
  }
  return env;
}
