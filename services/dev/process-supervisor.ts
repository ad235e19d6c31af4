import { appendFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { Subprocess } from "bun";
import type { Logger } from "../../src/observability/logger.ts";

export interface ProcessSpec {
  /** Unique name, e.g. "collector-2"; also the log file name. */
  name: string;
  /** Kind shown in the status panel, e.g. "collector". */
  kind: string;
  command: string[];
  env: Record<string, string>;
  /** Port of its HTTP endpoint (/health, /metrics). */
  httpPort: number;
  logFile: string;
}

export interface SupervisorLimits {
  /** Lines of output kept per process, shown when it dies. */
  tailLinesMax: number;
  restartBackoffMsMin: number;
  restartBackoffMsMax: number;
  /** How long a process may take to exit after SIGTERM before SIGKILL. */
  stopTimeoutMs: number;
  /** A process that ran this long before dying restarts at the minimum backoff again. */
  stableRunMs: number;
}

export type ProcessState = "starting" | "running" | "restarting" | "stopping" | "stopped";

interface Managed {
  spec: ProcessSpec;
  child: Subprocess | undefined;
  state: ProcessState;
  restarts: number;
  backoffMs: number;
  tail: string[];
  restartTimer: ReturnType<typeof setTimeout> | undefined;
  startedAtMs: number;
}

export interface ProcessStatus {
  name: string;
  kind: string;
  state: ProcessState;
  pid: number | undefined;
  restarts: number;
  httpPort: number;
}

/**
 * Runs the dev stack's processes: captures their output (log file + a bounded
 * tail), restarts one that dies with capped exponential backoff, and stops them
 * gracefully in reverse start order.
 */
export class ProcessSupervisor {
  private readonly processes = new Map<string, Managed>();

  constructor(
    private readonly logger: Logger,
    private readonly limits: SupervisorLimits,
  ) {}

  start(spec: ProcessSpec): void {
    if (this.processes.has(spec.name)) throw new Error(`process ${spec.name} is already supervised`);
    mkdirSync(dirname(spec.logFile), { recursive: true });
    const managed: Managed = {
      spec,
      child: undefined,
      state: "starting",
      restarts: 0,
      backoffMs: this.limits.restartBackoffMsMin,
      tail: [],
      restartTimer: undefined,
      startedAtMs: 0,
    };
    this.processes.set(spec.name, managed);
    this.spawn(managed);
  }

  /**
   * Runs a one-shot command (the migrate step) to its end: output to its log file, never
   * restarted. Resolves with the exit code and its last lines; SIGKILL after `timeoutMs`.
   */
  async runToEnd(spec: ProcessSpec, timeoutMs: number): Promise<{ code: number; lastLines: string[] }> {
    mkdirSync(dirname(spec.logFile), { recursive: true });
    const managed: Managed = {
      spec,
      child: undefined,
      state: "running",
      restarts: 0,
      backoffMs: 0,
      tail: [],
      restartTimer: undefined,
      startedAtMs: performance.now(),
    };
    const child = Bun.spawn(spec.command, {
      env: { ...process.env, ...spec.env },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    const [code] = await Promise.all([
      child.exited,
      this.capture(managed, child.stdout),
      this.capture(managed, child.stderr),
    ]);
    clearTimeout(timer);
    return { code, lastLines: managed.tail.slice(-10) };
  }

  /** Stops one process (scale down); resolves when it has exited. */
  async stop(name: string): Promise<void> {
    const managed = this.processes.get(name);
    if (managed === undefined) return;
    await this.stopManaged(managed);
    this.processes.delete(name);
  }

  /** Stops all, last started first (API before collectors before the broker). */
  async stopAll(): Promise<void> {
    const all = [...this.processes.values()].reverse();
    for (const managed of all) await this.stopManaged(managed);
  }

  /** Sends SIGKILL to everything (second Ctrl-C). */
  killAll(): void {
    for (const managed of this.processes.values()) {
      managed.state = "stopping";
      managed.child?.kill("SIGKILL");
    }
  }

  names(kind: string): string[] {
    return [...this.processes.values()].filter((m) => m.spec.kind === kind).map((m) => m.spec.name);
  }

  status(): ProcessStatus[] {
    return [...this.processes.values()].map((m) => ({
      name: m.spec.name,
      kind: m.spec.kind,
      state: m.state,
      pid: m.child?.pid,
      restarts: m.restarts,
      httpPort: m.spec.httpPort,
    }));
  }

  private spawn(managed: Managed): void {
    const { spec } = managed;
    const child = Bun.spawn(spec.command, {
      // Its own process group: a terminal's Ctrl-C reaches only the supervisor, which
      // then stops the processes in order (streamers, collectors, API, broker, ClickHouse).
      detached: true,
      env: { ...process.env, ...spec.env },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    managed.child = child;
    managed.state = "running";
    managed.startedAtMs = performance.now();
    void this.capture(managed, child.stdout);
    void this.capture(managed, child.stderr);
    void child.exited.then((code) => this.onExit(managed, child, code));
  }

  private async capture(managed: Managed, stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let pending = "";
    for await (const chunk of stream) {
      const text = decoder.decode(chunk, { stream: true });
      appendFileSync(managed.spec.logFile, text);
      pending += text;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) this.remember(managed, line);
    }
  }

  private remember(managed: Managed, line: string): void {
    managed.tail.push(line);
    if (managed.tail.length > this.limits.tailLinesMax) managed.tail.shift();
  }

  private onExit(managed: Managed, child: Subprocess, code: number): void {
    if (managed.child !== child) return;
    managed.child = undefined;
    if (managed.state === "stopping" || managed.state === "stopped") {
      managed.state = "stopped";
      return;
    }
    if (code === 0) {
      // A clean exit nobody asked for is a finished job (a streamer in once mode), not a crash.
      this.logger.info({ process: managed.spec.name }, `${managed.spec.name} finished`);
      this.processes.delete(managed.spec.name);
      return;
    }
    managed.state = "restarting";
    managed.restarts += 1;
    if (performance.now() - managed.startedAtMs >= this.limits.stableRunMs) {
      managed.backoffMs = this.limits.restartBackoffMsMin;
    }
    this.logger.error(
      {
        process: managed.spec.name,
        exitCode: code,
        restartInMs: managed.backoffMs,
        lastLines: managed.tail.slice(-10),
      },
      `${managed.spec.name} exited with code ${code}; restarting`,
    );
    managed.restartTimer = setTimeout(() => {
      managed.restartTimer = undefined;
      if (managed.state === "restarting") this.spawn(managed);
    }, managed.backoffMs);
    managed.backoffMs = Math.min(managed.backoffMs * 2, this.limits.restartBackoffMsMax);
  }

  private async stopManaged(managed: Managed): Promise<void> {
    if (managed.restartTimer !== undefined) clearTimeout(managed.restartTimer);
    managed.state = "stopping";
    const child = managed.child;
    if (child === undefined) {
      managed.state = "stopped";
      return;
    }
    child.kill("SIGTERM");
    const timer = setTimeout(() => {
      this.logger.warn({ process: managed.spec.name }, "did not stop in time; killing");
      child.kill("SIGKILL");
    }, this.limits.stopTimeoutMs);
    const code = await child.exited;
    clearTimeout(timer);
    managed.state = "stopped";
    this.logger.info({ process: managed.spec.name, exitCode: code }, `${managed.spec.name} stopped`);
  }
}
