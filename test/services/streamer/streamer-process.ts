/**
 * Runs services/streamer/main.ts as a real child process against a broker, on an
 * OS-picked HTTP port (read from its `listening` line), keeping its log lines.
 */
import { join } from "node:path";
import { spawnService, waitUntil } from "../../support/service-process.ts";

export { waitUntil };

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

export async function startStreamer(options: { brokerUrl: string; env?: Record<string, string> }): Promise<StreamerProcess> {
  const streamer = await spawnService({
    name: "streamer",
    entry: mainPath,
    env: { BROKER_URL: options.brokerUrl, STREAMER_PORT: "0", STREAMER_HOST: "127.0.0.1", ...options.env },
    logLinesMax: 5_000,
  });
  return {
    url: streamer.url,
    pid: streamer.pid,
    exited: streamer.exited,
    stop: () => streamer.stop(),
    kill: streamer.kill,
    logs: streamer.logs,
    entries: streamer.entries,
    waitForLog: streamer.waitForLog,
  };
}
