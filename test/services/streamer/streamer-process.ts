/**
 * Runs services/streamer/main.ts as a real child process against a broker, on an
 * OS-picked HTTP port (read from its `listening` line), keeping its log lines.
 */
import { join } from "node:path";
import { listeningPort, pumpLines } from "../../support/broker-process.ts";

export interface StreamerProcess {
  url: string;
  pid: number;
  exited: Promise<number | null>;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
  kill(signal?: NodeJS.Signals): void;
  logs(): string[];
  /** Log lines parsed as JSON objects. */
  entries(): Record<string, unknown>[];
  waitForLog(text: string, timeoutMs?: number): Promise<string>;
}

const mainPath = join(import.meta.dir, "..", "..", "..", "services", "streamer", "main.ts");
const logLinesMax = 5_000;

export async function startStreamer(options: { brokerUrl: string; env?: Record<string, string> }): Promise<StreamerProcess> {
  const child = Bun.spawn(["bun", mainPath], {
    env: {
      ...process.env,
      LOG_FORMAT: "json",
      LOG_LEVEL: "info",
      BROKER_URL: options.brokerUrl,
      STREAMER_PORT: "0",
      STREAMER_HOST: "127.0.0.1",
      ...options.env,
    },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const lines: string[] = [];
  const watchers: { text: string; resolve: (line: string) => void }[] = [];
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
  const exited = child.exited.then(() => child.exitCode);
  void exited.then((code) => portFound.reject(new Error(`streamer exited with ${code} before listening:\n${lines.slice(-30).join("\n")}`)));
  const port = await portFound.promise;
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
    entries: () => lines.flatMap((line) => parseLine(line)),
    waitForLog(text, timeoutMs = 20_000) {
      const seen = lines.find((line) => line.includes(text));
      if (seen !== undefined) return Promise.resolve(seen);
      const found = Promise.withResolvers<string>();
      watchers.push({ text, resolve: found.resolve });
      const timer = setTimeout(
        () => found.reject(new Error(`no log line with "${text}" within ${timeoutMs} ms:\n${lines.slice(-30).join("\n")}`)),
        timeoutMs,
      );
      return found.promise.finally(() => clearTimeout(timer));
    },
  };
}

function parseLine(line: string): Record<string, unknown>[] {
  try {
    return [JSON.parse(line) as Record<string, unknown>];
  } catch {
    return [];
  }
}

/** Polls until `condition` holds; throws with `describe()` after `timeoutMs`. */
export async function waitUntil(condition: () => Promise<boolean> | boolean, describe: () => string, timeoutMs = 20_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await condition()) return;
    await Bun.sleep(100);
  }
  throw new Error(`condition not met within ${timeoutMs} ms: ${describe()}`);
}
