import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { ClickHouseClient } from "@clickhouse/client";
import { Admin } from "../../src/broker-client/admin.ts";
import type { BrokerConnection } from "../../src/broker-client/connection.ts";
import { createClickHouse } from "../../src/clickhouse/client.ts";
import { ChaosLoad } from "./chaos-load.ts";
import { type ChaosStack, startChaosStack } from "./chaos-stack.ts";
import { type FaultContext, type FaultKind, faultKinds } from "./faults.ts";
import { type Reconciliation, readTopic, reconcile } from "./reconcile.ts";

export interface ChaosOptions {
  mode: "short" | "full";
  /** Full mode: how long faults are injected. */
  faultPhaseMs: number;
  /** Short mode: how many faults of each kind. */
  faultsPerKind: number;
  /** Time between two faults: uniformly in [gapMsMin, gapMsMax]. */
  gapMsMin: number;
  gapMsMax: number;
  streamers: number;
  collectors: number;
  rateRowsPerS: number;
  loadRowsPerS: number;
  seed: number;
  portBase?: number;
  dataDir?: string;
  keepData?: boolean;
  log: (line: string) => void;
}

export interface ChaosReport extends Reconciliation {
  mode: "short" | "full";
  seconds: number;
  faults: number;
  faultCounts: Record<string, number>;
  faultErrors: string[];
  /** The longest a streamer was behind its schedule (catching up after a hand-over or an outage). */
  maxLagMs: number;
  /** A pass over the sample file at the stream's rate: the step between a GPU metric's records. */
  passMs: number;
  diskLimited: boolean;
  nonJsonLines: number;
}

const topic = "telemetry";
const collectorGroup = "collectors";
const sampleRows = 2_470;

/** mulberry32: a seeded random, so a run can be replayed with CHAOS_SEED. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const startedMs = performance.now();
  const stack = await startChaosStack({
    streamers: options.streamers,
    collectors: options.collectors,
    rateRowsPerS: options.rateRowsPerS,
    brokerDiskBytes: 1024 * 1024 * 1024,
    ...(options.portBase === undefined ? {} : { portBase: options.portBase }),
    ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
    ...(options.keepData === undefined ? {} : { keepData: options.keepData }),
  });
  const client = createClickHouse({
    url: stack.clickhouseUrl,
    username: "default",
    password: stack.clickhousePassword,
    database: "telemetry",
    requestTimeoutMs: 120_000,
  });
  try {
    return await runOn(stack, client, options, startedMs);
  } finally {
    await client.close();
    await stack.stop();
  }
}

async function runOn(
  stack: ChaosStack,
  client: ClickHouseClient,
  options: ChaosOptions,
  startedMs: number,
): Promise<ChaosReport> {
  const random = seeded(options.seed);
  const context: FaultContext = { stack, random, collectorGroup, topic };
  await waitFor("the first rows in ClickHouse", 60_000, async () => (await countRows(client)) > 0);
  const load = await ChaosLoad.start(brokerOf(stack), topic, options.loadRowsPerS);
  const lag = watchScheduleLag(stack);
  await Bun.sleep(3_000);
  const faults = await injectFaults(context, options);
  options.log(`faults done after ${seconds(startedMs)} s; settling`);
  await waitFor("every process running", 60_000, async () =>
    stack.supervisor.status().every((entry) => entry.state === "running"),
  );
  await Bun.sleep(3_000);
  await load.stop();
  await stack.stack.scale("streamer", 0);
  lag.stop();
  await waitDrained(stack, client);
  const contents = await readTopic(brokerOf(stack), topic);
  const deadLetters = await dlqRecords(brokerOf(stack));
  const figures = await reconcile({ client, topic, contents, acked: load.acked, deadLetters });
  return {
    mode: options.mode,
    seconds: seconds(startedMs),
    ...faults,
    ...figures,
    maxLagMs: lag.maxMs(),
    passMs: Math.round((sampleRows * 1_000) / options.rateRowsPerS),
    diskLimited: stack.diskLimited,
    nonJsonLines: countNonJsonLines(join(stack.plan.dataDir, "logs")),
  };
}

async function injectFaults(
  context: FaultContext,
  options: ChaosOptions,
): Promise<{ faults: number; faultCounts: Record<string, number>; faultErrors: string[] }> {
  const kinds = faultKinds.filter((kind) => kind.available(context));
  const plan = options.mode === "short" ? shortPlan(kinds, options.faultsPerKind, context.random) : undefined;
  const deadline = performance.now() + options.faultPhaseMs;
  const active = new Map<string, Promise<void>>();
  const faultCounts: Record<string, number> = {};
  const faultErrors: string[] = [];
  let faults = 0;
  for (let index = 0; plan === undefined ? performance.now() < deadline : index < plan.length; index += 1) {
    await Bun.sleep(options.gapMsMin + context.random() * (options.gapMsMax - options.gapMsMin));
    const kind = plan?.[index] ?? weightedPick(kinds, context.random, active);
    if (kind === undefined) continue;
    if (kind.exclusive) await Promise.all(active.values());
    // One fault of a kind at a time (two disk fills or two freezes would not end in order).
    await active.get(kind.name);
    const started = performance.now();
    const run = kind
      .inject(context)
      .then((detail) => options.log(`${(performance.now() - started).toFixed(0).padStart(5)} ms  ${detail}`))
      .catch((error: unknown) => {
        faultErrors.push(`${kind.name}: ${String(error)}`);
        options.log(`fault ${kind.name} failed: ${String(error)}`);
      })
      .finally(() => active.delete(kind.name));
    active.set(kind.name, run);
    if (kind.exclusive) await run;
    faults += 1;
    faultCounts[kind.name] = (faultCounts[kind.name] ?? 0) + 1;
  }
  await Promise.all(active.values());
  return { faults, faultCounts, faultErrors };
}

/** Each kind `perKind` times, shuffled. */
function shortPlan(kinds: readonly FaultKind[], perKind: number, random: () => number): FaultKind[] {
  const plan = kinds.flatMap((kind) => Array.from({ length: perKind }, () => kind));
  for (let index = plan.length - 1; index > 0; index -= 1) {
    const other = Math.floor(random() * (index + 1));
    [plan[index], plan[other]] = [plan[other] as FaultKind, plan[index] as FaultKind];
  }
  return plan;
}

/** By weight, among the kinds not running now (one freeze at a time, one disk fill at a time). */
function weightedPick(
  kinds: readonly FaultKind[],
  random: () => number,
  active: ReadonlyMap<string, unknown>,
): FaultKind | undefined {
  const free = kinds.filter((kind) => !active.has(kind.name));
  const total = free.reduce((sum, kind) => sum + kind.weight, 0);
  let roll = random() * total;
  for (const kind of free) {
    roll -= kind.weight;
    if (roll < 0) return kind;
  }
  return free.at(-1);
}

/** Scrapes every streamer's streamer_schedule_lag_seconds twice a second and keeps the maximum. */
function watchScheduleLag(stack: ChaosStack): { stop(): void; maxMs(): number } {
  let maxMs = 0;
  const timer = setInterval(() => {
    for (const entry of stack.supervisor.status()) {
      if (entry.kind !== "streamer") continue;
      void fetch(`http://127.0.0.1:${entry.httpPort}/metrics`, { signal: AbortSignal.timeout(1_000) })
        .then((response) => response.text())
        .then((page) => {
          const line = page.split("\n").find((candidate) => candidate.startsWith("streamer_schedule_lag_seconds"));
          if (line !== undefined) maxMs = Math.max(maxMs, Number(line.split(" ").at(-1)) * 1_000);
        })
        .catch(() => undefined);
    }
  }, 500);
  return { stop: () => clearInterval(timer), maxMs: () => Math.round(maxMs) };
}

/** Until the collectors have taken in everything the topic holds. */
async function waitDrained(stack: ChaosStack, client: ClickHouseClient): Promise<void> {
  const admin = new Admin(brokerOf(stack));
  await waitFor("the collectors to catch up", 180_000, async () => {
    const detail = await admin.describeGroup(collectorGroup).catch(() => undefined);
    return detail !== undefined && detail.lag.totalLag === 0 && detail.state === "stable";
  });
  // Committed only after inserting: ClickHouse holds everything now.
  await countRows(client);
}

async function dlqRecords(broker: BrokerConnection): Promise<number> {
  const info = await new Admin(broker).describeTopic("telemetry.dlq").catch(() => undefined);
  return info?.partitions.reduce((sum, entry) => sum + entry.highWatermark - entry.logStartOffset, 0) ?? 0;
}

async function countRows(client: ClickHouseClient): Promise<number> {
  try {
    const result = await client.query({ query: "SELECT count() AS n FROM datapoints", format: "JSONEachRow" });
    return Number((await result.json<{ n: string }>())[0]?.n ?? 0);
  } catch {
    return 0;
  }
}

/** Lines of the processes' log files that are not a JSON object with a level and a message. */
function countNonJsonLines(logDir: string): number {
  let bad = 0;
  for (const name of readdirSync(logDir)) {
    for (const line of readFileSync(join(logDir, name), "utf8").split("\n")) {
      if (line === "") continue;
      try {
        const entry = JSON.parse(line) as { level?: unknown; msg?: unknown };
        if (typeof entry.level !== "number" || typeof entry.msg !== "string") bad += 1;
      } catch {
        bad += 1;
      }
    }
  }
  return bad;
}

async function waitFor(what: string, timeoutMs: number, condition: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await condition()) return;
    await Bun.sleep(250);
  }
  throw new Error(`chaos: timed out after ${timeoutMs} ms waiting for ${what}`);
}

function seconds(sinceMs: number): number {
  return Math.round((performance.now() - sinceMs) / 100) / 10;
}

/** The stack's broker with its admin token, as the suite's own clients reach it. */
function brokerOf(stack: ChaosStack): BrokerConnection {
  return { brokerUrl: stack.brokerUrl, token: stack.brokerToken };
}
