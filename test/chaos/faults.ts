import { rmSync, statfsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Admin } from "../../src/broker-client/admin.ts";
import type { ChaosStack } from "./chaos-stack.ts";

/**
 * The faults the chaos suite injects. Each kind is one object in `faultKinds`: a new
 * kind (issue 17's broker-cluster faults) is one more entry. `inject` resolves once the
 * fault is over (a kill at once, a freeze when it thaws) with a line for the log.
 */
export interface FaultContext {
  stack: ChaosStack;
  random: () => number;
  /** The consumer group of the collectors. */
  collectorGroup: string;
  topic: string;
}

export interface FaultKind {
  name: string;
  /** Relative frequency in the random (full) mode. */
  weight: number;
  /** Whether it can run here and now (the disk fill needs a tmpfs). */
  available(context: FaultContext): boolean;
  /** Nothing else runs while it does (an offset rewind stops every collector). */
  exclusive?: boolean;
  inject(context: FaultContext): Promise<string>;
}

const pick = <T>(items: readonly T[], random: () => number): T | undefined =>
  items[Math.floor(random() * items.length)];
const between = (low: number, high: number, random: () => number) => low + Math.floor(random() * (high - low));

function signal(stack: ChaosStack, name: string, how: NodeJS.Signals): boolean {
  const pid = stack.pidOf(name);
  if (pid === undefined) return false;
  try {
    process.kill(pid, how);
    return true;
  } catch {
    return false;
  }
}

/** kill -9 of one process of a kind; the supervisor restarts it (same INSTANCE_ID). */
function killOne(kind: "streamer" | "collector", weight: number): FaultKind {
  return {
    name: `kill -9 ${kind}`,
    weight,
    available: (context) => context.stack.names(kind).length > 0,
    inject: async (context) => {
      const name = pick(context.stack.names(kind), context.random);
      if (name === undefined || !signal(context.stack, name, "SIGKILL")) return `no ${kind} to kill`;
      return `killed ${name}`;
    },
  };
}

const killBroker: FaultKind = {
  name: "kill -9 broker",
  weight: 1,
  available: () => true,
  inject: async (context) => (signal(context.stack, "broker", "SIGKILL") ? "killed the broker" : "no broker"),
};

const freezeClickHouse: FaultKind = {
  name: "freeze ClickHouse",
  weight: 1,
  available: () => true,
  inject: async (context) => {
    const frozenMs = between(2_000, 8_000, context.random);
    if (!signal(context.stack, "clickhouse", "SIGSTOP")) return "no ClickHouse";
    await Bun.sleep(frozenMs);
    signal(context.stack, "clickhouse", "SIGCONT");
    return `ClickHouse frozen (SIGSTOP) ${frozenMs} ms`;
  },
};

const killClickHouse: FaultKind = {
  name: "kill -9 ClickHouse",
  weight: 1,
  available: () => true,
  inject: async (context) => (signal(context.stack, "clickhouse", "SIGKILL") ? "killed ClickHouse" : "no ClickHouse"),
};

const fillDisk: FaultKind = {
  name: "fill the broker's disk",
  weight: 1,
  available: (context) => context.stack.diskLimited,
  inject: async (context) => {
    const filler = join(context.stack.brokerDataDir, "chaos-filler");
    const { bavail, bsize } = statfsSync(context.stack.brokerDataDir);
    const fullMs = between(2_000, 6_000, context.random);
    // All but a few KiB: the next appends, index writes and checkpoints meet ENOSPC.
    fillFile(filler, Math.max(0, bavail * bsize - 16 * 1024));
    try {
      await Bun.sleep(fullMs);
    } finally {
      rmSync(filler, { force: true });
    }
    return `broker disk full for ${fullMs} ms`;
  },
};

/** Allocates `bytes` at once (fallocate: no gigabyte written from this process), else writes them. */
function fillFile(path: string, bytes: number): void {
  if (Bun.spawnSync(["fallocate", "-l", String(bytes), path], { stderr: "ignore" }).exitCode === 0) return;
  try {
    writeFileSync(path, new Uint8Array(bytes));
  } catch (error) {
    // The broker wrote meanwhile and the filler did not fit whole: the disk is full all the same.
    if ((error as { code?: string }).code !== "ENOSPC") throw error;
  }
}

/**
 * The collectors stop (gracefully: a group's offsets can only move while nobody owns
 * its partitions), every partition's committed offset moves back to 0, into what was
 * committed, or a little before it, and the collectors start again.
 */
const rewindOffsets: FaultKind = {
  name: "rewind the collectors' offsets",
  weight: 1,
  exclusive: true,
  available: () => true,
  inject: async (context) => {
    const { stack, random, collectorGroup, topic } = context;
    const admin = new Admin({ brokerUrl: stack.brokerUrl, token: stack.brokerToken, requestTimeoutMs: 10_000 });
    const collectors = stack.names("collector").length;
    await stack.stack.scale("collector", 0);
    try {
      await waitGroupEmpty(admin, collectorGroup);
      const described = await untilBrokerAnswers(() => admin.describeGroup(collectorGroup));
      const committed = described.offsets.filter((entry) => entry.topic === topic);
      const offsets = committed.map(({ partition, offset }) => {
        const choice = Math.floor(random() * 3);
        const target = choice === 0 ? 0 : choice === 1 ? between(0, offset + 1, random) : Math.max(0, offset - 300);
        return { partition, offset: target };
      });
      if (offsets.length > 0)
        await untilBrokerAnswers(() => admin.resetGroupOffsets(collectorGroup, { topic, offsets }));
      return `rewound ${offsets.length} partitions (${offsets.map((entry) => entry.offset).join(",")})`;
    } finally {
      await stack.stack.scale("collector", collectors);
    }
  },
};

/** The broker may be restarting (another fault): ask again for a while. */
async function untilBrokerAnswers<T>(ask: () => Promise<T>): Promise<T> {
  const deadline = performance.now() + 30_000;
  for (;;) {
    try {
      return await ask();
    } catch (error) {
      if (performance.now() > deadline) throw error;
      await Bun.sleep(200);
    }
  }
}

async function waitGroupEmpty(admin: Admin, group: string): Promise<void> {
  const deadline = performance.now() + 30_000;
  while (performance.now() < deadline) {
    const members = await admin
      .describeGroup(group)
      .then((description) => description.members.length)
      .catch(() => -1);
    if (members === 0) return;
    await Bun.sleep(100);
  }
  throw new Error(`group ${group} still has members after 30 s`);
}

/** Every kind, in the order the short mode cycles through them. */
export const faultKinds: readonly FaultKind[] = [
  killOne("streamer", 6),
  killOne("collector", 2),
  killBroker,
  freezeClickHouse,
  killClickHouse,
  fillDisk,
  rewindOffsets,
];
