/**
 * Starts the embedded ClickHouse endpoint (services/clickhouse-embedded/main.ts) as a
 * real child process for tests and benchmarks:
 *
 *   const clickhouse = await startEmbeddedClickHouse();
 *   const client = createClient({ url: clickhouse.url, password: clickhouse.password });
 *   ...
 *   await client.close();
 *   await clickhouse.stop();
 *
 * It listens on a port the OS picks (port 0; the port is read from its `listening`
 * log line) and resolves once GET /ping answers. Without `dataDir` a temp directory
 * is created and removed by stop(); a `dataDir` you pass is never removed, so you can
 * stop and start again on the same data.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ServiceProcess, spawnService } from "./service-process.ts";

export interface EmbeddedClickHouseOptions {
  /** Data directory to open; default: a fresh temp directory removed by stop(). */
  dataDir?: string;
  /** Extra environment for the child (e.g. CLICKHOUSE_EMBEDDED_QUEUE_LENGTH_MAX). */
  env?: Record<string, string>;
  /** How long to wait for /ping after spawning; default 30 s. */
  startTimeoutMs?: number;
  /** The endpoint's password; default a fresh random one (pass the same one to restart on the same data). */
  password?: string;
}

export interface EmbeddedClickHouse {
  /** Base URL for `createClient({ url })`, e.g. http://127.0.0.1:41234 */
  url: string;
  port: number;
  dataDir: string;
  /** Credentials the endpoint requires (the user is always "default"). */
  user: string;
  password: string;
  /** CLICKHOUSE_URL, CLICKHOUSE_USER and CLICKHOUSE_PASSWORD for a service process. */
  serviceEnv(): Record<string, string>;
  /** X-ClickHouse-User and X-ClickHouse-Key, for a raw fetch. */
  authHeaders(): Record<string, string>;
  pid: number;
  /** Resolves with the exit code once the process has exited (null when killed by a signal). */
  exited: Promise<number | null>;
  /** SIGTERM, wait for a graceful exit (SIGKILL after 15 s); removes a temp data dir. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL now (a crash; or another signal, e.g. SIGSTOP to freeze it); the data dir stays. Call stop() afterwards to clean up. */
  kill(signal?: NodeJS.Signals): void;
  /** The child's last log lines (stdout and stderr), for failure messages. */
  logs(): string[];
}

const mainPath = join(import.meta.dir, "..", "..", "services", "clickhouse-embedded", "main.ts");
const stopTimeoutMs = 15_000;
const pingIntervalMs = 50;

export async function startEmbeddedClickHouse(options: EmbeddedClickHouseOptions = {}): Promise<EmbeddedClickHouse> {
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "embedded-clickhouse-"));
  const removeDataDir = () => {
    if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
  };
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const password =
    options.password ?? options.env?.CLICKHOUSE_EMBEDDED_PASSWORD ?? randomBytes(18).toString("base64url");
  let server: ServiceProcess;
  try {
    server = await spawnService({
      name: "embedded ClickHouse",
      entry: mainPath,
      env: {
        CLICKHOUSE_EMBEDDED_HOST: "127.0.0.1",
        CLICKHOUSE_EMBEDDED_PORT: "0",
        CLICKHOUSE_EMBEDDED_DATA_DIR: dataDir,
        CLICKHOUSE_EMBEDDED_PASSWORD: password,
        ...options.env,
      },
      logLinesMax: 200,
      startTimeoutMs,
      stopGraceMs: stopTimeoutMs,
    });
  } catch (error) {
    removeDataDir();
    throw error;
  }
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= server.stop().then(removeDataDir);
    return stopping;
  };
  try {
    await waitForPing(server, startTimeoutMs);
  } catch (error) {
    await stop();
    throw error;
  }
  const kill = (signal: NodeJS.Signals = "SIGKILL") => server.kill(signal);
  return {
    url: server.url,
    port: server.port,
    dataDir,
    user: "default",
    password,
    authHeaders: () => ({ "x-clickhouse-user": "default", "x-clickhouse-key": password }),
    serviceEnv: () => ({ CLICKHOUSE_URL: server.url, CLICKHOUSE_USER: "default", CLICKHOUSE_PASSWORD: password }),
    pid: server.pid,
    exited: server.exited,
    stop,
    kill,
    logs: server.logs,
  };
}

async function waitForPing(server: ServiceProcess, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void server.exited.then((code) => {
    exitCode = code;
  });
  while (performance.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`embedded ClickHouse exited with ${exitCode}`);
    try {
      const response = await fetch(`${server.url}/ping`);
      if (response.ok && (await response.text()) === "Ok.\n") return;
    } catch {
      // Not accepting connections yet.
    }
    await Bun.sleep(pingIntervalMs);
  }
  throw new Error(`embedded ClickHouse at ${server.url} did not answer /ping within ${timeoutMs} ms`);
}
