import { rmSync } from "node:fs";
import { resolve } from "node:path";
import { loadConfigOrExit } from "../../src/config/env.ts";
import { createLogger, defaultInstanceId } from "../../src/observability/logger.ts";
import { DevConfig, flagsToEnv } from "./config.ts";
import { startControlServer } from "./control-server.ts";
import { devTokenFiles, loadOrCreateDevSecrets } from "./dev-secrets.ts";
import { ProcessSupervisor } from "./process-supervisor.ts";
import { DevStack } from "./stack.ts";
import type { StackPlan } from "./stack-plan.ts";
import { renderStatusLine, type StackFigures, StackObserver } from "./status-panel.ts";

let flags: Record<string, string>;
try {
  flags = flagsToEnv(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(2);
}
const config = loadConfigOrExit(DevConfig, { ...process.env, ...flags });
const logger = createLogger({
  service: "dev",
  instanceId: config.INSTANCE_ID || defaultInstanceId(),
  level: config.LOG_LEVEL,
});
const dataDir = resolve(config.DEV_DATA_DIR);
if (config.DEV_RESET) {
  rmSync(dataDir, { recursive: true, force: true });
  logger.info({ dataDir }, "reset: deleted the dev data directory");
}

const plan: StackPlan = {
  dataDir,
  logLevel: config.LOG_LEVEL,
  clickhousePort: config.DEV_CLICKHOUSE_PORT,
  brokerPort: config.DEV_BROKER_PORT,
  apiPort: config.DEV_API_PORT,
  streamerPortBase: config.DEV_STREAMER_PORT_BASE,
  collectorPortBase: config.DEV_COLLECTOR_PORT_BASE,
  streamerRateRowsPerS: config.DEV_STREAMER_RATE_ROWS_PER_S,
  secrets: loadOrCreateDevSecrets(dataDir),
};
const supervisor = new ProcessSupervisor(logger, {
  tailLinesMax: 50,
  restartBackoffMsMin: 500,
  restartBackoffMsMax: 30_000,
  stopTimeoutMs: 20_000,
  stableRunMs: 30_000,
});
const stack = new DevStack(plan, supervisor, logger);
const observer = new StackObserver();
let figures: StackFigures | undefined;
let statusTimer: ReturnType<typeof setInterval> | undefined;
let stopping = false;
let refreshes = 0;
const statusLogEveryRefreshes = 10;

/** Wrappers (npx, `bun run`) forward the same Ctrl-C again within milliseconds: not a second press. */
const repeatedSignalMsMin = 1_000;
let stoppingSinceMs = 0;

async function stop(code: number): Promise<never> {
  if (stopping) {
    logger.warn("second interrupt: killing every process");
    supervisor.killAll();
    process.exit(130);
  }
  stopping = true;
  stoppingSinceMs = performance.now();
  clearInterval(statusTimer);
  if (process.stdin.isTTY) process.stdin.setRawMode(false);
  process.stdout.write("\nstopping: streamers flush, collectors commit, broker flushes… (Ctrl-C again to force)\n");
  await supervisor.stopAll();
  control?.stop(true);
  process.exit(code);
}
function onSignal(): void {
  if (stopping && performance.now() - stoppingSinceMs < repeatedSignalMsMin) return;
  void stop(0);
}
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);
// The children run in their own process groups; never leave one behind when this process ends.
process.on("exit", () => supervisor.killAll());

const control = startControlServer({
  port: config.DEV_CONTROL_PORT,
  stack,
  status: () => ({ processes: supervisor.status(), figures }),
  token: plan.secrets.tokens.devControl,
});

try {
  await stack.start({ streamers: config.DEV_STREAMERS, collectors: config.DEV_COLLECTORS });
} catch (error) {
  logger.error({ err: error }, "the stack did not start");
  await stop(1);
}

printWhereToLook();
listenToKeys();
statusTimer = setInterval(() => void refreshStatus(), config.DEV_STATUS_INTERVAL_MS);

function printWhereToLook(): void {
  const secretsDir = plan.secrets.directory;
  const api = `http://127.0.0.1:${plan.apiPort}`;
  process.stdout.write(
    [
      "",
      "GPU telemetry pipeline is running",
      `  Dashboard        ${api}/`,
      `  API              ${api}/api/v1/gpus   (read open on 127.0.0.1; token: ${devTokenFiles.apiRead})`,
      `  Swagger UI       ${api}/swagger`,
      `  Broker Swagger   http://127.0.0.1:${plan.brokerPort}/swagger   (bun run broker -- … uses ${devTokenFiles.brokerAdmin})`,
      `  Upload           http://127.0.0.1:${plan.streamerPortBase}/api/v1/upload   (token: ${devTokenFiles.streamerUpload})`,
      `  ClickHouse       http://127.0.0.1:${plan.clickhousePort}   (user default, password: clickhouse-password)`,
      `  Control          http://127.0.0.1:${config.DEV_CONTROL_PORT}/status   (bun run dev:scale -- collector 3; token: ${devTokenFiles.devControl})`,
      `  Data and logs    ${dataDir}`,
      `  Secrets          ${secretsDir}   (passwords and tokens, generated on first start; --reset makes new ones)`,
      process.stdin.isTTY ? "  Keys             s/S add/remove streamer · c/C add/remove collector · q quit" : "",
      "",
    ].join("\n"),
  );
}

async function refreshStatus(): Promise<void> {
  const processes = supervisor.status();
  figures = await observer.observe(processes, plan.brokerPort);
  if (stopping) return;
  const line = renderStatusLine(figures, processes);
  refreshes += 1;
  if (process.stdout.isTTY) process.stdout.write(`\r\x1b[2K${line}`);
  // Without a terminal the line cannot be redrawn: log it now and then instead.
  else if (refreshes % statusLogEveryRefreshes === 1) logger.info({ figures }, line);
}

function listenToKeys(): void {
  if (!process.stdin.isTTY) return;
  process.stdin.setRawMode(true);
  process.stdin.on("data", (data: Buffer) => {
    const key = data.toString();
    if (key === "\u0003" || key === "q") void stop(0);
    const change: Record<string, ["streamer" | "collector", number]> = {
      s: ["streamer", 1],
      S: ["streamer", -1],
      c: ["collector", 1],
      C: ["collector", -1],
    };
    const step = change[key];
    if (step === undefined) return;
    const [kind, delta] = step;
    const target = Math.max(0, Math.min(10, stack.count(kind) + delta));
    process.stdout.write(`\n${kind}s → ${target}\n`);
    void stack.scale(kind, target).catch((error: unknown) => logger.error({ err: error }, "scaling failed"));
  });
}
