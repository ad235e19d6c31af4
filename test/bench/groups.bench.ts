/**
 * Consumer-group coordinator throughput, in process (no HTTP), on the real disk:
 * - commits/s with 10 members of one group committing their partitions in a loop,
 *   each commit acknowledged only after its fsynced checkpoint (group commit);
 * - heartbeats/s of 64 members of a stable group (no write needed);
 * - time of a join into a 64-member group over 4,096 partitions (sticky rebalance).
 * `bun run bench:groups [--seconds=N]`; prints figures, then one JSON line.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GroupCoordinator } from "../../brokers/groups/group-coordinator.ts";
import type { MemberAssignment } from "../../src/broker-protocol/group-protocol.ts";
import { monotonicMs } from "../../src/runtime/clock.ts";

const secondsArgument = process.argv.find((argument) => argument.startsWith("--seconds="));
const secondsPerMode = secondsArgument === undefined ? 2 : Number(secondsArgument.slice("--seconds=".length));
async function open(dataDir: string, partitions: Record<string, number>): Promise<GroupCoordinator> {
  return GroupCoordinator.open({ dataDir, clock: monotonicMs, partitionCount: (topic) => partitions[topic] });
}

/** Joins `count` members and heartbeats until the group is stable. */
async function stableGroup(coordinator: GroupCoordinator, group: string, count: number): Promise<MemberAssignment[]> {
  let members: MemberAssignment[] = [];
  for (let index = 0; index < count; index += 1) {
    members.push(
      await coordinator.join(group, { clientId: `c${index}`, topics: ["telemetry"], sessionTimeoutMs: 60_000 }),
    );
  }
  for (let round = 0; round < 3; round += 1) {
    members = await Promise.all(
      members.map((member) => coordinator.heartbeat(group, member.memberId, member.generation)),
    );
  }
  return members;
}

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? 0;
}

async function benchCommits(dataDir: string) {
  const coordinator = await open(dataDir, { telemetry: 12 });
  const members = await stableGroup(coordinator, "collectors", 10);
  const roundsBefore = coordinator.flushRoundCount;
  const latenciesMs: number[] = [];
  const deadline = performance.now() + secondsPerMode * 1000;
  let offset = 0;
  await Promise.all(
    members.map(async (member) => {
      const partitions = member.assignment[0]?.partitions ?? [];
      while (performance.now() < deadline) {
        offset += 1;
        const started = performance.now();
        const offsets = partitions.map((partition) => ({ topic: "telemetry", partition, offset }));
        await coordinator.commit("collectors", member.memberId, member.generation, offsets);
        latenciesMs.push(performance.now() - started);
      }
    }),
  );
  const rounds = coordinator.flushRoundCount - roundsBefore;
  await coordinator.close();
  latenciesMs.sort((a, b) => a - b);
  return {
    commitsPerSecond: Math.round(latenciesMs.length / secondsPerMode),
    commitsPerFsyncRound: Number((latenciesMs.length / Math.max(1, rounds)).toFixed(1)),
    commitP50Ms: Number(percentile(latenciesMs, 0.5).toFixed(2)),
    commitP99Ms: Number(percentile(latenciesMs, 0.99).toFixed(2)),
  };
}

async function benchHeartbeats(dataDir: string) {
  const coordinator = await open(dataDir, { telemetry: 12 });
  let members = await stableGroup(coordinator, "streamers", 64);
  const deadline = performance.now() + secondsPerMode * 1000;
  let count = 0;
  while (performance.now() < deadline) {
    members = await Promise.all(
      members.map((member) => coordinator.heartbeat("streamers", member.memberId, member.generation)),
    );
    count += members.length;
  }
  await coordinator.close();
  return { heartbeatsPerSecond: Math.round(count / secondsPerMode) };
}

async function benchRebalance(dataDir: string) {
  const coordinator = await open(dataDir, { telemetry: 4_096 });
  const members = await stableGroup(coordinator, "wide", 63);
  const started = performance.now();
  const joiner = await coordinator.join("wide", {
    clientId: "joiner",
    topics: ["telemetry"],
    sessionTimeoutMs: 60_000,
  });
  const joinMs = performance.now() - started;
  const moving = coordinator.describe("wide").members.find((member) => member.memberId === joiner.memberId)?.awaiting;
  await coordinator.close();
  return {
    join64thMemberMs: Number(joinMs.toFixed(1)),
    partitionsMovedOnJoin: moving?.[0]?.partitions.length ?? 0,
    membersBefore: members.length,
  };
}

const root = mkdtempSync(join(tmpdir(), "bench-groups-"));
try {
  const commits = await benchCommits(join(root, "commits"));
  console.log(
    `commits: ${commits.commitsPerSecond}/s durable, ${commits.commitsPerFsyncRound} per fsync round, p50 ${commits.commitP50Ms} ms, p99 ${commits.commitP99Ms} ms`,
  );
  const heartbeats = await benchHeartbeats(join(root, "heartbeats"));
  console.log(`heartbeats: ${heartbeats.heartbeatsPerSecond}/s (64 members, stable group)`);
  const rebalance = await benchRebalance(join(root, "rebalance"));
  console.log(
    `rebalance: join of member 64 over 4096 partitions took ${rebalance.join64thMemberMs} ms, moving ${rebalance.partitionsMovedOnJoin} partitions`,
  );
  console.log(JSON.stringify({ bench: "groups", secondsPerMode, ...commits, ...heartbeats, ...rebalance }));
} finally {
  rmSync(root, { recursive: true, force: true });
}
