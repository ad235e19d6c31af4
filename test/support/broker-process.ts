import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnService } from "./service-process.ts";
import { testBrokerToken, testBrokerTokenEnv } from "./test-tokens.ts";

/**
 * A real broker process (`bun brokers/main.ts`) on a free port with its own temp
 * data directory, for tests and benchmarks.
 */

export interface BrokerProcessOptions {
  /** Extra BROKER_* variables, e.g. { BROKER_IN_FLIGHT_BYTES_MAX: "1024" }. */
  env?: Record<string, string>;
  /** Reuse a directory (a restart); by default a fresh temp dir. */
  dataDir?: string;
  /** Keep the data directory after stop() (a later restart reuses it). */
  keepDataDir?: boolean;
  /** Copy the broker's log lines to this process's stderr. */
  echoLogs?: boolean;
}

export interface BrokerProcess {
  url: string;
  /** Valid for every scope (unless `env` replaced the token settings). */
  token: string;
  port: number;
  dataDir: string;
  pid: number;
  exited: Promise<number | null>;
  /** Log lines seen so far (the last `logLinesMax`). */
  logs(): string[];
  /** SIGTERM, wait for the exit (SIGKILL after `graceMs`), remove the data dir; returns the exit code. */
  stop(graceMs?: number): Promise<number | null>;
  kill(signal?: NodeJS.Signals | number): void;
}

const brokerMain = new URL("../../brokers/main.ts", import.meta.url).pathname;
const startTimeoutMs = 20_000;
const stopGraceMsDefault = 10_000;

export async function startBroker(options: BrokerProcessOptions = {}): Promise<BrokerProcess> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "broker-test-")));
  const broker = await spawnService({
    name: "broker",
    entry: brokerMain,
    env: {
      BROKER_PORT: "0",
      BROKER_HOST: "127.0.0.1",
      BROKER_DATA_DIR: dataDir,
      BROKER_DISK_FREE_BYTES_MIN: "0",
      ...testBrokerTokenEnv,
      ...options.env,
    },
    startTimeoutMs,
    stopGraceMs: stopGraceMsDefault,
    echoLogs: options.echoLogs === true,
  });
  let stopped: Promise<number | null> | undefined;
  const stop = (graceMs = stopGraceMsDefault): Promise<number | null> => {
    stopped ??= (async () => {
      const code = await broker.stop(graceMs);
      if (options.keepDataDir !== true && options.dataDir === undefined)
        await rm(dataDir, { recursive: true, force: true });
      return code;
    })();
    return stopped;
  };
  return {
    url: broker.url,
    token: testBrokerToken,
    port: broker.port,
    dataDir,
    pid: broker.pid,
    exited: broker.exited,
    logs: broker.logs,
    stop,
    kill: broker.kill,
  };
}
