import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadOrCreateDevSecrets } from "../../services/dev/dev-secrets.ts";
import { ProcessSupervisor } from "../../services/dev/process-supervisor.ts";
import { DevStack } from "../../services/dev/stack.ts";
import type { StackPlan } from "../../services/dev/stack-plan.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { freePort, freePortRange } from "../support/free-port.ts";
import { testBrokerTokenEnv } from "../support/test-tokens.ts";

export interface PipelineStack {
  plan: StackPlan;
  stack: DevStack;
  supervisor: ProcessSupervisor;
  apiUrl: string;
  brokerUrl: string;
  /** The dev stack's broker admin token (admin, produce, consume). */
  brokerToken: string;
  stop(): Promise<void>;
}

/** The real processes, started the way `bun run dev` starts them, on free ports and a temp dir. */
export async function startPipelineStack(extraEnv: StackPlan["extraEnv"]): Promise<PipelineStack> {
  const dataDir = mkdtempSync(join(tmpdir(), "pipeline-e2e-"));
  const plan: StackPlan = {
    dataDir,
    logLevel: "warn",
    clickhousePort: await freePort(),
    brokerPort: await freePort(),
    apiPort: await freePort(),
    streamerPortBase: await freePortRange(10),
    collectorPortBase: await freePortRange(10),
    streamerRateRowsPerS: 0,
    secrets: loadOrCreateDevSecrets(dataDir),
    // The broker takes the dev stack's tokens and, beside them, the tests' (the fixtures' helpers present it).
    extraEnv: { ...extraEnv, broker: { ...testBrokerTokenEnv, ...extraEnv?.broker } },
  };
  const logger = createLogger({ service: "e2e", instanceId: "e2e", level: "warn" });
  const supervisor = new ProcessSupervisor(logger, {
    tailLinesMax: 30,
    restartBackoffMsMin: 500,
    restartBackoffMsMax: 5_000,
    stopTimeoutMs: 20_000,
    stableRunMs: 30_000,
  });
  const stack = new DevStack(plan, supervisor, logger);
  await stack.start({ streamers: 0, collectors: 0 });
  return {
    plan,
    stack,
    supervisor,
    apiUrl: `http://127.0.0.1:${plan.apiPort}`,
    brokerUrl: `http://127.0.0.1:${plan.brokerPort}`,
    brokerToken: plan.secrets.tokens.brokerAdmin,
    stop: async () => {
      await supervisor.stopAll();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function getJson<T>(url: string, token?: string): Promise<T> {
  const response = await fetch(url, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  if (!response.ok) throw new Error(`GET ${url} → ${response.status}: ${await response.text()}`);
  return (await response.json()) as T;
}

export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  while (performance.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await Bun.sleep(250);
  }
  throw new Error(`timed out waiting for ${what}${last === undefined ? "" : `: ${String(last)}`}`);
}
