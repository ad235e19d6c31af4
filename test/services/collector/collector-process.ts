/**
 * Runs services/collector/main.ts as a real child process against a broker and a
 * ClickHouse endpoint, on an OS-picked ops port (read from its `listening` line).
 */
import { join } from "node:path";
import { listeningPort, pumpLines } from "../../support/broker-process.ts";

export interface CollectorProcess {
  /** Base URL of /health, /ready and /metrics. */
  url: string;
  pid: number;
  exited: Promise<number | null>;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
  kill(signal?: NodeJS.Signals): void;
  logs(): string[];
  /** Resolves with the first log line containing `text`. */
  waitForLog(text: string, timeoutMs?: number): Promise<string>;
}

const mainPath = join(import.meta.dir, "..", "..", "..", "services", "collector", "main.ts");
const logLinesMax = 2_000;

export async function startCollector(options: {
  brokerUrl: string;
  clickhouseUrl: string;
  database: string;
  env?: Record<string, string>;
}): Promise<CollectorProcess> {
  const child = Bun.spawn(["bun", mainPath], {
    env: {
      ...process.env,
      LOG_FORMAT: "json",
      LOG_LEVEL: "info",
      BROKER_URL: options.brokerUrl,
      CLICKHOUSE_URL: options.clickhouseUrl,
      CLICKHOUSE_DATABASE: options.database,
      COLLECTOR_PORT: "0",
      COLLECTOR_LINGER_MS: "100",
      COLLECTOR_RETRY_BACKOFF_MS_MIN: "50",
      COLLECTOR_RETRY_BACKOFF_MS_MAX: "500",
      ...options.env,
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  const lines: string[] = [];
  const watchers: Array<{ text: string; resolve: (line: string) => void }> = [];
  const portFound = Promise.withResolvers<number>();
  const remember = (line: string) => {
    lines.push(line);
    if (lines.length > logLinesMax) lines.shift();
    const port = listeningPort(line);
    if (port !== undefined) portFound.resolve(port);
    for (const watcher of watchers.filter((item) => line.includes(item.text))) {
      watchers.splice(watchers.indexOf(watcher), 1);
      watcher.resolve(line);
    }
  };
  void pumpLines(child.stdout, remember);
  void pumpLines(child.stderr, remember);
  void child.exited.then((code) => portFound.reject(new Error(`collector exited with ${code}:\n${lines.join("\n")}`)));
  const port = await portFound.promise;
  const exited = child.exited.then(() => child.exitCode);
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return await exited;
    },
    kill: (signal: NodeJS.Signals = "SIGKILL") => child.kill(signal),
    logs: () => [...lines],
    waitForLog(text, timeoutMs = 20_000) {
      const seen = lines.find((line) => line.includes(text));
      if (seen !== undefined) return Promise.resolve(seen);
      const found = Promise.withResolvers<string>();
      watchers.push({ text, resolve: found.resolve });
      const timer = setTimeout(() => found.reject(new Error(`no log line with "${text}" within ${timeoutMs} ms:\n${lines.slice(-30).join("\n")}`)), timeoutMs);
      return found.promise.finally(() => clearTimeout(timer));
    },
  };
}

/** Polls until `condition` holds; throws with `describe()` after `timeoutMs`. */
export async function waitUntil(condition: () => Promise<boolean>, describe: () => Promise<string> | string, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await condition()) return;
    await Bun.sleep(100);
  }
  throw new Error(`condition not met within ${timeoutMs} ms: ${await describe()}`);
}

/** Waits until the collector's /ready answers 200 (migrations applied, group joined). */
export async function waitReady(collector: CollectorProcess, timeoutMs = 30_000): Promise<void> {
  await waitUntil(
    async () => (await fetch(`${collector.url}/ready`).catch(() => undefined))?.status === 200,
    () => `collector at ${collector.url} not ready:\n${collector.logs().slice(-20).join("\n")}`,
    timeoutMs,
  );
}
