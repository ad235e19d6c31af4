import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadOrCreateDevSecrets } from "../../services/dev/dev-secrets.ts";
import { ProcessSupervisor } from "../../services/dev/process-supervisor.ts";
import { DevStack } from "../../services/dev/stack.ts";
import type { StackPlan } from "../../services/dev/stack-plan.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { freePort, freePortRange } from "../support/free-port.ts";

/**
 * The stack the chaos suite runs: the dev stack's processes, started the way `bun run
 * dev` starts them (services/dev), with their logs under the data directory. The
 * broker's data directory is a tmpfs of `brokerDiskBytes` when the machine lets us
 * mount one (root), so a full disk can be injected for real; otherwise that fault is
 * left out and the report says so.
 */
export interface ChaosStackOptions {
  streamers: number;
  collectors: number;
  /** Rows per second of the stream, shared by the streamers. */
  rateRowsPerS: number;
  /** Ports from here (base, base+1, base+2, streamers from base+10, collectors from base+30); default: free ones. */
  portBase?: number;
  brokerDiskBytes: number;
  /** Where the data and logs go; removed by stop() unless `keepData`. */
  dataDir?: string;
  keepData?: boolean;
}

export interface ChaosStack {
  plan: StackPlan;
  stack: DevStack;
  supervisor: ProcessSupervisor;
  brokerUrl: string;
  /** The dev stack's broker admin token (produce, consume and admin). */
  brokerToken: string;
  clickhouseUrl: string;
  clickhousePassword: string;
  brokerDataDir: string;
  /** True when the broker's data directory is a tmpfs we can fill. */
  diskLimited: boolean;
  pidOf(name: string): number | undefined;
  names(kind: "streamer" | "collector"): string[];
  stop(): Promise<void>;
}

export async function startChaosStack(options: ChaosStackOptions): Promise<ChaosStack> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "chaos-"));
  mkdirSync(dataDir, { recursive: true });
  const brokerDataDir = join(dataDir, "broker");
  mkdirSync(brokerDataDir, { recursive: true });
  const diskLimited = mountTmpfs(brokerDataDir, options.brokerDiskBytes);
  const plan = await planOf(options, dataDir);
  // Restarted fast, so a killed process with its INSTANCE_ID is back within its session.
  const supervisor = new ProcessSupervisor(createLogger({ service: "chaos", instanceId: "chaos", level: "warn" }), {
    tailLinesMax: 50,
    restartBackoffMsMin: 200,
    restartBackoffMsMax: 2_000,
    stopTimeoutMs: 20_000,
    stableRunMs: 3_000,
  });
  const stack = new DevStack(plan, supervisor, createLogger({ service: "chaos", instanceId: "chaos", level: "warn" }));
  await stack.start({ streamers: options.streamers, collectors: options.collectors });
  const status = () => supervisor.status();
  return {
    plan,
    stack,
    supervisor,
    brokerUrl: `http://127.0.0.1:${plan.brokerPort}`,
    brokerToken: plan.secrets.tokens.brokerAdmin,
    clickhouseUrl: `http://127.0.0.1:${plan.clickhousePort}`,
    clickhousePassword: plan.secrets.clickhousePassword,
    brokerDataDir,
    diskLimited,
    pidOf: (name) => status().find((entry) => entry.name === name)?.pid,
    names: (kind) => supervisor.names(kind),
    stop: async () => {
      await supervisor.stopAll();
      // Lazily: the broker's mapped index files keep the mount busy until they are collected.
      if (diskLimited) Bun.spawnSync(["umount", "-l", brokerDataDir]);
      if (options.keepData !== true) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function planOf(options: ChaosStackOptions, dataDir: string): Promise<StackPlan> {
  const base = options.portBase;
  return {
    dataDir,
    logLevel: "info",
    clickhousePort: base === undefined ? await freePort() : base,
    brokerPort: base === undefined ? await freePort() : base + 1,
    apiPort: base === undefined ? await freePort() : base + 2,
    streamerPortBase: base === undefined ? await freePortRange(10) : base + 10,
    collectorPortBase: base === undefined ? await freePortRange(10) : base + 30,
    streamerRateRowsPerS: options.rateRowsPerS,
    secrets: loadOrCreateDevSecrets(dataDir),
    extraEnv: {
      // The disk watermark off: a full disk is met at the first failed write, as the fault means.
      broker: { BROKER_DISK_FREE_BYTES_MIN: "0" },
      collector: { COLLECTOR_RETRY_BACKOFF_MS_MAX: "2000" },
    },
  };
}

function mountTmpfs(directory: string, bytes: number): boolean {
  const mount = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", `size=${bytes}`, "tmpfs", directory], {
    stderr: "ignore",
    stdout: "ignore",
  });
  return mount.exitCode === 0;
}
