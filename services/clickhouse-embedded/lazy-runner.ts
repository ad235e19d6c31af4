import type { EngineResult } from "./engine.ts";
import type { Job } from "./executor.ts";
import type { JobRunner } from "./executor-pool.ts";

/**
 * A job runner whose connection is opened on first use: the read-only connections
 * (readonly=1, readonly=2) cost nothing until a client asks for one.
 */
export class LazyRunner implements JobRunner {
  private runner: Promise<JobRunner> | undefined;
  private opened: JobRunner | undefined;

  constructor(private readonly open: () => Promise<JobRunner>) {}

  submit(job: Job): Promise<EngineResult> {
    this.runner ??= this.open().then((runner) => {
      this.opened = runner;
      return runner;
    });
    return this.runner.then((runner) => runner.submit(job));
  }

  async drain(): Promise<void> {
    await this.opened?.drain();
  }

  get queueLength(): number {
    return this.opened?.queueLength ?? 0;
  }

  get busy(): boolean {
    return this.opened?.busy ?? false;
  }
}
