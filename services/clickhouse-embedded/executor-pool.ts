import type { EngineResult } from "./engine.ts";
import type { Executor, Job } from "./executor.ts";

/** What the handler needs of a place to run jobs: one executor or a pool of them. */
export interface JobRunner {
  submit(job: Job): Promise<EngineResult>;
  drain(): Promise<void>;
  readonly queueLength: number;
  readonly busy: boolean;
}

/**
 * Several executors, each with its own chdb connection on the same data directory,
 * for inserts. chdb runs statements without query parameters on different connections
 * in parallel (parameterized ones race on shared parameter state, which is why queries
 * keep their single connection), so two insert connections ingest about twice as fast
 * on two cores (`bun run bench:clickhouse-insert`),
 * and an insert never makes an API query wait. A job goes to the executor with the
 * fewest jobs queued or running.
 */
export class ExecutorPool implements JobRunner {
  constructor(private readonly executors: readonly Executor[]) {
    if (executors.length === 0) throw new Error("ExecutorPool needs at least one executor");
  }

  submit(job: Job): Promise<EngineResult> {
    let best = this.executors[0] as Executor;
    for (const executor of this.executors) if (load(executor) < load(best)) best = executor;
    return best.submit(job);
  }

  async drain(): Promise<void> {
    await Promise.all(this.executors.map((executor) => executor.drain()));
  }

  get queueLength(): number {
    return this.executors.reduce((sum, executor) => sum + executor.queueLength, 0);
  }

  get busy(): boolean {
    return this.executors.some((executor) => executor.busy);
  }
}

function load(executor: Executor): number {
  return executor.queueLength + (executor.busy ? 1 : 0);
}
