import type { Subprocess } from "bun";
import { parserHeaderBytesFlag } from "../../src/http/request-limits.ts";

/**
 * One of our processes (broker, streamer, collector, embedded ClickHouse, API) run
 * as a real child for tests and benchmarks: JSON log lines kept in a bounded buffer,
 * the port read from its `{"msg":"listening","port":N}` line, graceful stop.
 */
export interface ServiceProcess {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  pid: number;
  /** The child itself, for callers that track processes (benchmarks' exit guards). */
  child: Subprocess;
  /** Resolves with the exit code (null when a signal ended it). */
  exited: Promise<number | null>;
  /** The last log lines (stdout and stderr). */
  logs(): string[];
  /** Log lines parsed as JSON objects (lines that are not JSON are skipped). */
  entries(): Record<string, unknown>[];
  /** The first log line containing `text`, waiting for it up to `timeoutMs`. */
  waitForLog(text: string, timeoutMs?: number): Promise<string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. Idempotent. */
  stop(graceMs?: number): Promise<number | null>;
  kill(signal?: NodeJS.Signals | number): void;
}

export interface ServiceProcessOptions {
  /** Shown in errors, e.g. "collector". */
  name: string;
  /** Absolute path of the entry file. */
  entry: string;
  env: Record<string, string>;
  logLinesMax?: number;
  startTimeoutMs?: number;
  stopGraceMs?: number;
  /** Copy every log line to this process's stderr (debugging). */
  echoLogs?: boolean;
}

const logLinesMaxDefault = 2_000;
const startTimeoutMsDefault = 30_000;
const stopGraceMsDefault = 15_000;
const waitForLogMsDefault = 20_000;
/** A line longer than this is cut: a child's log line is a few hundred bytes. */
const lineCharsMax = 1_000_000;

export async function spawnService(options: ServiceProcessOptions): Promise<ServiceProcess> {
  const child = Bun.spawn(["bun", parserHeaderBytesFlag, options.entry], {
    env: { ...process.env, LOG_FORMAT: "json", LOG_LEVEL: "info", ...options.env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const log = new LogBuffer(options.logLinesMax ?? logLinesMaxDefault, options.echoLogs === true);
  void pumpLines(child.stdout, (line) => log.add(line));
  void pumpLines(child.stderr, (line) => log.add(line));
  const exited = child.exited.then(() => child.exitCode);
  const port = await waitForPort(options, child, log, exited);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    child,
    exited,
    logs: () => log.lines(),
    entries: () => log.lines().flatMap(parseJsonLine),
    waitForLog: (text, timeoutMs = waitForLogMsDefault) => log.waitFor(text, timeoutMs),
    stop: stopper(child, exited, options.stopGraceMs ?? stopGraceMsDefault),
    kill: (signal = "SIGKILL") => child.kill(signal),
  };
}

async function waitForPort(
  options: ServiceProcessOptions,
  child: Subprocess,
  log: LogBuffer,
  exited: Promise<number | null>,
): Promise<number> {
  const timeoutMs = options.startTimeoutMs ?? startTimeoutMsDefault;
  const listening = log.waitFor('"listening"', timeoutMs).then((line) => listeningPort(line));
  const died = exited.then((code) => {
    throw new Error(`${options.name} exited with ${code} before listening:\n${log.lines().slice(-30).join("\n")}`);
  });
  try {
    const port = await Promise.race([listening, died]);
    if (port === undefined) throw new Error(`${options.name} logged "listening" without a port`);
    return port;
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
}

function stopper(child: Subprocess, exited: Promise<number | null>, graceMsDefault: number) {
  let stopping: Promise<number | null> | undefined;
  return (graceMs = graceMsDefault): Promise<number | null> => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    })();
    return stopping;
  };
}

class LogBuffer {
  private readonly kept: string[] = [];
  private readonly watchers: { text: string; resolve: (line: string) => void }[] = [];

  constructor(
    private readonly linesMax: number,
    private readonly echo: boolean,
  ) {}

  add(line: string): void {
    this.kept.push(line);
    if (this.kept.length > this.linesMax) this.kept.shift();
    if (this.echo) process.stderr.write(`${line}\n`);
    for (const watcher of this.watchers.filter((item) => line.includes(item.text))) {
      this.watchers.splice(this.watchers.indexOf(watcher), 1);
      watcher.resolve(line);
    }
  }

  lines(): string[] {
    return [...this.kept];
  }

  waitFor(text: string, timeoutMs: number): Promise<string> {
    const seen = this.kept.find((line) => line.includes(text));
    if (seen !== undefined) return Promise.resolve(seen);
    const found = Promise.withResolvers<string>();
    this.watchers.push({ text, resolve: found.resolve });
    const timer = setTimeout(() => {
      found.reject(new Error(`no log line with "${text}" within ${timeoutMs} ms:\n${this.kept.slice(-30).join("\n")}`));
    }, timeoutMs);
    return found.promise.finally(() => clearTimeout(timer));
  }
}

/** The port of a pino `listening` line (`{"msg":"listening","port":N}`), else undefined. */
export function listeningPort(line: string): number | undefined {
  if (!line.includes('"listening"')) return undefined;
  const parsed = parseJsonLine(line)[0];
  return parsed?.msg === "listening" && typeof parsed.port === "number" ? parsed.port : undefined;
}

function parseJsonLine(line: string): Record<string, unknown>[] {
  try {
    return [JSON.parse(line) as Record<string, unknown>];
  } catch {
    return [];
  }
}

/** Calls `onLine` for every line of a child's pipe until it closes; never throws. */
export async function pumpLines(
  stream: ReadableStream<Uint8Array> | undefined | null,
  onLine: (line: string) => void,
): Promise<void> {
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

/** Polls until `condition` holds; throws with `describe()` after `timeoutMs`. */
export async function waitUntil(
  condition: () => Promise<boolean> | boolean,
  describe: () => Promise<string> | string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await condition()) return;
    await Bun.sleep(100);
  }
  throw new Error(`condition not met within ${timeoutMs} ms: ${await describe()}`);
}
