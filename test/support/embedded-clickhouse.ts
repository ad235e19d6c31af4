/**
 * Starts the embedded ClickHouse endpoint (services/clickhouse-embedded/main.ts) as a
 * real child process for tests and benchmarks:
 *
 *   const clickhouse = await startEmbeddedClickHouse();
 *   const client = createClient({ url: clickhouse.url });
 *   ...
 *   await client.close();
 *   await clickhouse.stop();
 *
 * It listens on a port the OS picks (port 0; the port is read from its `listening`
 * log line) and resolves once GET /ping answers. Without `dataDir` a temp directory
 * is created and removed by stop(); a `dataDir` you pass is never removed, so you can
 * stop and start again on the same data.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

export interface EmbeddedClickHouseOptions {
  /** Data directory to open; default: a fresh temp directory removed by stop(). */
  dataDir?: string;
  /** Extra environment for the child (e.g. CLICKHOUSE_EMBEDDED_QUEUE_LENGTH_MAX). */
  env?: Record<string, string>;
  /** How long to wait for /ping after spawning; default 30 s. */
  startTimeoutMs?: number;
}

export interface EmbeddedClickHouse {
  /** Base URL for `createClient({ url })`, e.g. http://127.0.0.1:41234 */
  url: string;
  port: number;
  dataDir: string;
  pid: number;
  /** Resolves with the exit code once the process has exited (null when killed by a signal). */
  exited: Promise<number | null>;
  /** SIGTERM, wait for a graceful exit (SIGKILL after 15 s); removes a temp data dir. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL now (a crash); the data dir stays. Call stop() afterwards to clean up. */
  kill(): void;
  /** The child's last log lines (stdout and stderr), for failure messages. */
  logs(): string[];
}

const mainPath = join(import.meta.dir, "..", "..", "services", "clickhouse-embedded", "main.ts");
const logLinesMax = 200;
const stopTimeoutMs = 15_000;
const pingIntervalMs = 50;

export async function startEmbeddedClickHouse(options: EmbeddedClickHouseOptions = {}): Promise<EmbeddedClickHouse> {
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "embedded-clickhouse-"));
  const child = Bun.spawn(["bun", mainPath], {
    env: {
      ...process.env,
      LOG_FORMAT: "json",
      LOG_LEVEL: "info",
      CLICKHOUSE_EMBEDDED_HOST: "127.0.0.1",
      CLICKHOUSE_EMBEDDED_PORT: "0",
      CLICKHOUSE_EMBEDDED_DATA_DIR: dataDir,
      ...options.env,
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  const lines: string[] = [];
  const portFound = Promise.withResolvers<number>();
  const remember = (line: string) => {
    lines.push(line);
    if (lines.length > logLinesMax) lines.shift();
    const port = listeningPort(line);
    if (port !== undefined) portFound.resolve(port);
  };
  void pumpLines(child.stdout, remember);
  void pumpLines(child.stderr, remember);
  void child.exited.then((code) => portFound.reject(new Error(`embedded ClickHouse exited with ${code} before listening:\n${lines.join("\n")}`)));

  const stop = makeStop(child, () => {
    if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
  });
  try {
    const port = await withTimeout(portFound.promise, options.startTimeoutMs ?? 30_000, () => lines);
    const url = `http://127.0.0.1:${port}`;
    await waitForPing(url, child, options.startTimeoutMs ?? 30_000);
    const exited = child.exited.then(() => child.exitCode);
    const kill = () => child.kill("SIGKILL");
    return { url, port, dataDir, pid: child.pid, exited, stop, kill, logs: () => [...lines] };
  } catch (error) {
    await stop();
    throw error;
  }
}

function listeningPort(line: string): number | undefined {
  if (!line.includes('"listening"')) return undefined;
  try {
    const parsed = JSON.parse(line) as { msg?: unknown; port?: unknown };
    return parsed.msg === "listening" && typeof parsed.port === "number" ? parsed.port : undefined;
  } catch {
    return undefined;
  }
}

async function pumpLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of stream) {
    pending += decoder.decode(chunk, { stream: true });
    const parts = pending.split("\n");
    pending = parts.pop() ?? "";
    for (const part of parts) if (part !== "") onLine(part);
  }
  if (pending !== "") onLine(pending);
}

function makeStop(child: Subprocess, cleanup: () => void): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return () => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), stopTimeoutMs);
        await child.exited;
        clearTimeout(timer);
      }
      cleanup();
    })();
    return stopping;
  };
}

async function waitForPing(url: string, child: Subprocess, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`embedded ClickHouse exited with ${child.exitCode}`);
    try {
      const response = await fetch(`${url}/ping`);
      if (response.ok && (await response.text()) === "Ok.\n") return;
    } catch {
      // Not accepting connections yet.
    }
    await Bun.sleep(pingIntervalMs);
  }
  throw new Error(`embedded ClickHouse at ${url} did not answer /ping within ${timeoutMs} ms`);
}

async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, logs: () => string[]): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`embedded ClickHouse did not log "listening" within ${timeoutMs} ms:\n${logs().join("\n")}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
