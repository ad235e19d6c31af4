import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

/**
 * A real broker process (`bun brokers/main.ts`) on a free port with its own temp
 * data directory, for tests and benchmarks, plus the two helpers every child
 * process starter needs: reading JSON log lines and finding the `listening` port.
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
const logLinesMax = 2_000;
/** A line longer than this is cut: a child's log line is a few hundred bytes. */
const lineCharsMax = 1_000_000;

/** The port of a pino `listening` line (`{"msg":"listening","port":N}`), else undefined. */
export function listeningPort(line: string): number | undefined {
  if (!line.includes('"listening"')) return undefined;
  try {
    const parsed = JSON.parse(line) as { msg?: unknown; port?: unknown };
    return parsed.msg === "listening" && typeof parsed.port === "number" ? parsed.port : undefined;
  } catch {
    return undefined;
  }
}

/** Calls `onLine` for every line of a child's pipe until it closes; never throws. */
export async function pumpLines(stream: ReadableStream<Uint8Array> | undefined | null, onLine: (line: string) => void): Promise<void> {
  if (stream === undefined || stream === null) return;
  const decoder = new TextDecoder();
  let pending = "";
  try {
    for await (const chunk of stream) {
      pending += decoder.decode(chunk, { stream: true });
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      if (pending.length > lineCharsMax) pending = pending.slice(-lineCharsMax);
      for (const line of lines) if (line.length > 0) onLine(line);
    }
  } catch {
    // the process went away
  }
  if (pending.length > 0) onLine(pending);
}

export async function startBroker(options: BrokerProcessOptions = {}): Promise<BrokerProcess> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "broker-test-")));
  const proc: Subprocess<"ignore", "pipe", "pipe"> = Bun.spawn(["bun", brokerMain], {
    env: {
      ...process.env,
      BROKER_PORT: "0",
      BROKER_HOST: "127.0.0.1",
      BROKER_DATA_DIR: dataDir,
      BROKER_DISK_FREE_BYTES_MIN: "0",
      LOG_FORMAT: "json",
      LOG_LEVEL: "info",
      ...options.env,
    },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const lines: string[] = [];
  const portFound = Promise.withResolvers<number>();
  const remember = (line: string) => {
    lines.push(line);
    if (lines.length > logLinesMax) lines.shift();
    if (options.echoLogs === true) process.stderr.write(`${line}\n`);
    const port = listeningPort(line);
    if (port !== undefined) portFound.resolve(port);
  };
  void pumpLines(proc.stdout, remember);
  void pumpLines(proc.stderr, remember);
  const exited = proc.exited.then(() => proc.exitCode);
  void exited.then((code) => portFound.reject(new Error(`broker exited with ${code} before listening:\n${lines.slice(-30).join("\n")}`)));
  const deadline = setTimeout(() => proc.kill("SIGKILL"), startTimeoutMs);
  const port = await portFound.promise.finally(() => clearTimeout(deadline));
  let stopped: Promise<number | null> | undefined;
  const stop = (graceMs = stopGraceMsDefault): Promise<number | null> => {
    stopped ??= (async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
      const code = await exited;
      clearTimeout(timer);
      if (options.keepDataDir !== true && options.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
      return code;
    })();
    return stopped;
  };
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    dataDir,
    pid: proc.pid,
    exited,
    logs: () => [...lines],
    stop,
    kill: (signal = "SIGKILL") => proc.kill(signal),
  };
}
