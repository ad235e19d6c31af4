import type { ConnectionState, RequestContext } from "./connection-state.ts";
import type { Engine, EngineResult } from "./engine.ts";
import { endpointError } from "./errors.ts";

export interface ExecutorOptions {
  engine: Engine;
  state: ConnectionState;
  /** Jobs waiting (not counting the running one); one more is refused. */
  queueLengthMax: number;
  /** A job that waited longer than this is refused instead of run. */
  queueWaitMsMax: number;
  /** Monotonic milliseconds; injected for tests. */
  nowMs?: () => number;
}

export interface Job {
  context: RequestContext;
  run: (engine: Engine) => Promise<EngineResult>;
  /** The SQL text run, if any: a SET or USE in it is undone before the next job. */
  sql?: string;
  /** Set when the client went away: a job still queued is then dropped. */
  signal?: AbortSignal;
}

/** Resolves or rejects one job's caller. */
type Settle = () => void;

interface QueuedJob {
  job: Job;
  enqueuedMs: number;
  resolve: (result: EngineResult) => void;
  reject: (error: unknown) => void;
}

/**
 * A bounded FIFO in front of the single chdb connection. chdb keeps one connection
 * state (settings, database, output buffer) per connection, so jobs run strictly one
 * after another; the engine itself still uses all cores inside each query.
 */
export class Executor {
  private readonly queue: QueuedJob[] = [];
  private running = false;
  private idleWaiters: Array<() => void> = [];
  private closed = false;
  private readonly nowMs: () => number;

  constructor(private readonly options: ExecutorOptions) {
    if (options.queueLengthMax < 1) throw new Error(`queueLengthMax must be >= 1, got ${options.queueLengthMax}`);
    this.nowMs = options.nowMs ?? (() => performance.now());
  }

  get queueLength(): number {
    return this.queue.length;
  }

  get busy(): boolean {
    return this.running;
  }

  submit(job: Job): Promise<EngineResult> {
    if (this.closed) return Promise.reject(endpointError("ABORTED", "Server is shutting down"));
    if (this.queue.length >= this.options.queueLengthMax) {
      return Promise.reject(
        endpointError(
          "TOO_MANY_SIMULTANEOUS_QUERIES",
          `Too many simultaneous queries: ${this.queue.length} queued, queueLengthMax is ${this.options.queueLengthMax}`,
        ),
      );
    }
    return new Promise<EngineResult>((resolve, reject) => {
      this.queue.push({ job, enqueuedMs: this.nowMs(), resolve, reject });
      void this.pump();
    });
  }

  /** Refuses new jobs and resolves once every queued and running job has settled. */
  async drain(): Promise<void> {
    this.closed = true;
    if (!this.running && this.queue.length === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    let settlePrevious: Settle | undefined;
    try {
      for (let next = this.queue.shift(); next !== undefined; next = this.queue.shift()) {
        // The next job reaches the engine before the previous caller's continuation
        // (building and writing its response) runs, so the engine does not idle meanwhile.
        const running = this.runOne(next);
        settlePrevious?.();
        settlePrevious = await running;
      }
    } finally {
      settlePrevious?.();
      this.running = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const waiter of waiters) waiter();
    }
  }

  /** Runs one job and returns how to settle its caller; the pump calls that once the next job is under way. */
  private async runOne(entry: QueuedJob): Promise<Settle> {
    const refusal = this.refusalOf(entry);
    if (refusal !== undefined) return () => entry.reject(refusal);
    const { state, engine } = this.options;
    try {
      // Without this check apply() would always yield once before the engine call starts.
      if (!state.isCurrent(entry.job.context)) await state.apply(entry.job.context);
    } catch (error) {
      return () => entry.reject(error);
    }
    try {
      const result = await entry.job.run(engine);
      return () => entry.resolve(result);
    } catch (error) {
      return () => entry.reject(error);
    } finally {
      // Also after a failure: a statement list may have applied part of itself.
      if (entry.job.sql !== undefined) state.noteStatement(entry.job.sql);
    }
  }

  private refusalOf(entry: QueuedJob): Error | undefined {
    if (entry.job.signal?.aborted === true) {
      return endpointError("ABORTED", "Query was cancelled: the client closed the connection while it was queued");
    }
    const waitedMs = this.nowMs() - entry.enqueuedMs;
    if (waitedMs <= this.options.queueWaitMsMax) return undefined;
    return endpointError(
      "TIMEOUT_EXCEEDED",
      `Query waited ${Math.round(waitedMs)} ms in the queue, queueWaitMsMax is ${this.options.queueWaitMsMax}`,
    );
  }
}
