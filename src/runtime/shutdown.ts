import type { Logger } from "../observability/logger.ts";

export interface ShutdownStep {
  /** Shown in logs, e.g. "stop intake", "drain batches", "close broker". */
  name: string;
  run: () => Promise<void> | void;
}

export interface ShutdownOptions {
  logger: Logger;
  /** Steps run in order: stop intake first, drain next, close last. */
  steps: ShutdownStep[];
  /** After this the process exits 1 even if a step is still running. */
  timeoutMs: number;
  /** What is left undone when the deadline passes (e.g. records dropped): added to that log line. */
  unfinished?: () => Record<string, unknown>;
  /** Injected for tests; defaults to process.exit. */
  exit?: (code: number) => void;
  signals?: NodeJS.Signals[];
}

export interface Shutdown {
  /** Runs the steps once; later calls return the same promise. `exitCode` is the least it exits with. */
  run: (reason: string, exitCode?: number) => Promise<number>;
  /** Removes the signal handlers (tests). */
  dispose: () => void;
}

/**
 * Graceful shutdown on SIGTERM/SIGINT: each step runs once, in order, under one
 * deadline. A second signal while draining forces exit 130 (an operator's Ctrl-C twice).
 */
export function installShutdown(options: ShutdownOptions): Shutdown {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const signals = options.signals ?? ["SIGTERM", "SIGINT"];
  let running: Promise<number> | undefined;

  const run = (reason: string, exitCode = 0): Promise<number> => {
    running ??= runSteps(options, reason).then((stepsCode) => {
      const code = Math.max(stepsCode, exitCode);
      exit(code);
      return code;
    });
    return running;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (running !== undefined) {
      options.logger.warn({ signal }, "second signal: forcing exit");
      exit(130);
      return;
    }
    void run(signal);
  };
  for (const signal of signals) process.on(signal, onSignal);
  const dispose = () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
  return { run, dispose };
}

async function runSteps(options: ShutdownOptions, reason: string): Promise<number> {
  const { logger, steps, timeoutMs } = options;
  logger.info({ reason, timeoutMs }, "shutting down");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<number>((resolve) => {
    timer = setTimeout(() => {
      logger.error({ timeoutMs, ...options.unfinished?.() }, "shutdown deadline passed; exiting with work unfinished");
      resolve(1);
    }, timeoutMs);
  });
  const work = (async () => {
    let code = 0;
    for (const step of steps) {
      const startedMs = performance.now();
      try {
        await step.run();
        logger.info({ step: step.name, tookMs: Math.round(performance.now() - startedMs) }, "shutdown step done");
      } catch (error) {
        code = 1;
        logger.error({ step: step.name, err: error }, "shutdown step failed");
      }
    }
    return code;
  })();
  const code = await Promise.race([work, deadline]);
  clearTimeout(timer);
  logger.info({ code }, "shutdown complete");
  return code;
}
