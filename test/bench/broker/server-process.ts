/**
 * Starts a peer's server binary (nats-server, redis-server) for the broker bench:
 * a free port, a fresh temp data dir, ready once its TCP port accepts, killed on
 * stop and on any exit of the bench process so no server outlives a run.
 */

import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { peakRssBytes } from "./peer.ts";

const startTimeoutMs = 15_000;
const startAttemptsMax = 3;
const stopTimeoutMs = 10_000;
const readyPollMs = 50;
/** Debian puts some daemons in /usr/sbin, which a non-root PATH may leave out. */
const binaryDirs = ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"];

export interface ServerProcess {
  port: number;
  dataDir: string;
  pid: number;
  /** Peak RSS seen so far (VmHWM, bytes); re-read on each call while running. */
  samplePeakRss(): Promise<number>;
  stop(): Promise<void>;
}

/** Absolute path of `name` on PATH or in the usual Debian dirs; undefined when absent. */
export function findBinary(name: string): string | undefined {
  const onPath = Bun.which(name);
  if (onPath !== null) return onPath;
  return binaryDirs.map((dir) => join(dir, name)).find((path) => existsSync(path));
}

/** A TCP port nothing listens on right now (the OS picks it; a race with others is retried by the caller). */
export function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

/** Servers alive now and their data dirs, killed and removed if the bench exits early. */
const running = new Map<Subprocess, string>();

/**
 * Kills `proc` (its process group when `detached`) and removes `dataDir` if the
 * bench exits before `release()` — for servers started elsewhere, like ours.
 */
export function killOnExit(proc: Subprocess, dataDir: string): { release(): void } {
  running.set(proc, dataDir);
  return { release: () => running.delete(proc) };
}
process.on("exit", () => {
  for (const [proc, dataDir] of running) {
    killGroup(proc, "SIGKILL");
    proc.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  }
});
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => process.exit(signal === "SIGINT" ? 130 : 143));
}

/**
 * Spawns `argv(port, dataDir)` until one attempt accepts TCP on its port. Output
 * goes to log files in the data dir, shown when the start fails.
 */
export async function startServer(options: {
  name: string;
  argv: (port: number, dataDir: string) => string[];
}): Promise<ServerProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), `bench-${options.name}-`));
  const failures: string[] = [];
  for (let attempt = 1; attempt <= startAttemptsMax; attempt += 1) {
    const port = freePort();
    const stdoutPath = join(dataDir, "server-stdout.log");
    const stderrPath = join(dataDir, "server-stderr.log");
    const proc = Bun.spawn(options.argv(port, dataDir), {
      stdin: "ignore",
      stdout: Bun.file(stdoutPath),
      stderr: Bun.file(stderrPath),
      // Its own process group, so a kill reaches the children it forks (redis' AOF rewrite).
      detached: true,
    });
    running.set(proc, dataDir);
    if (await waitAcceptingTcp(proc, port)) return serverProcess(proc, port, dataDir);
    killGroup(proc, "SIGKILL");
    await proc.exited;
    running.delete(proc);
    const log = (
      await Promise.all([stdoutPath, stderrPath].map((path) => (existsSync(path) ? Bun.file(path).text() : "")))
    )
      .join("")
      .slice(-600);
    failures.push(`attempt ${attempt} port ${port} (exit ${proc.exitCode}): ${log}`);
  }
  rmSync(dataDir, { recursive: true, force: true });
  throw new Error(`${options.name} did not start in ${startAttemptsMax} attempts: ${failures.join(" | ")}`);
}

async function waitAcceptingTcp(proc: Subprocess, port: number): Promise<boolean> {
  const deadlineMs = performance.now() + startTimeoutMs;
  while (performance.now() < deadlineMs) {
    if (proc.exitCode !== null || proc.signalCode !== null) return false;
    try {
      const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
      socket.end();
      return true;
    } catch {
      await Bun.sleep(readyPollMs);
    }
  }
  return false;
}

function serverProcess(proc: Subprocess, port: number, dataDir: string): ServerProcess {
  let peakRss = 0;
  const samplePeakRss = async () => {
    if (proc.exitCode === null) peakRss = Math.max(peakRss, await peakRssBytes(proc.pid));
    return peakRss;
  };
  return {
    port,
    dataDir,
    pid: proc.pid,
    samplePeakRss,
    async stop() {
      await samplePeakRss();
      killGroup(proc, "SIGTERM");
      const killTimer = setTimeout(() => killGroup(proc, "SIGKILL"), stopTimeoutMs);
      await proc.exited;
      clearTimeout(killTimer);
      running.delete(proc);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Signals the server's whole process group (it leads one: spawned detached). */
function killGroup(proc: Subprocess, signal: "SIGTERM" | "SIGKILL"): void {
  try {
    process.kill(-proc.pid, signal);
  } catch {
    // the group is gone already
  }
}
