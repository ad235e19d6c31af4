import { afterEach, describe, expect, test } from "bun:test";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  FencedInstanceError,
  GroupLimitError,
  InvalidGroupRequestError,
  NotAssignedError,
  PartitionOwnedError,
  StaleGenerationError,
  UnknownGroupError,
  UnknownMemberError,
  UnknownTopicError,
} from "../../../brokers/groups/errors.ts";
import { GroupCoordinator } from "../../../brokers/groups/group-coordinator.ts";
import type { GroupLimits } from "../../../brokers/groups/group-limits.ts";
import type { Assignment, MemberAssignment } from "../../../src/broker-protocol/group-protocol.ts";
import { ManualClock } from "../../../src/runtime/clock.ts";

const directories: string[] = [];
const coordinators: GroupCoordinator[] = [];

afterEach(async () => {
  for (const coordinator of coordinators.splice(0)) await coordinator.close().catch(() => {});
  for (const directory of directories.splice(0)) await rm(directory, { recursive: true, force: true });
});

async function setUp(
  options: { limits?: Partial<GroupLimits>; topics?: Record<string, number>; dataDir?: string } = {},
) {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "groups-")));
  if (options.dataDir === undefined) directories.push(dataDir);
  const clock = new ManualClock(1_000_000);
  const topics = new Map(Object.entries(options.topics ?? { telemetry: 12 }));
  const coordinator = await GroupCoordinator.open({
    dataDir,
    clock: clock.now,
    partitionCount: (topic) => topics.get(topic),
    limits: { sessionTimeoutMsMin: 100, ...options.limits },
  });
  coordinators.push(coordinator);
  return { coordinator, clock, dataDir, topics };
}

const partitionsOf = (assignment: Assignment, topic = "telemetry") =>
  assignment.find((entry) => entry.topic === topic)?.partitions ?? [];

function join1(
  coordinator: GroupCoordinator,
  clientId: string,
  extra: { group?: string; sessionTimeoutMs?: number } = {},
) {
  return coordinator.join(extra.group ?? "collectors", {
    clientId,
    topics: ["telemetry"],
    sessionTimeoutMs: extra.sessionTimeoutMs ?? 10_000,
  });
}

/** A member acknowledges: heartbeat at the generation it last heard. */
function ack(coordinator: GroupCoordinator, state: MemberAssignment, group = "collectors") {
  return coordinator.heartbeat(group, state.memberId, state.generation);
}

describe("GroupCoordinator membership", () => {
  test("first member gets every partition; every membership change bumps the generation", async () => {
    const { coordinator } = await setUp();
    const a = await join1(coordinator, "a");
    expect(a.generation).toBe(1);
    expect(partitionsOf(a.assignment)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(a.rebalancing).toBe(false);
    const b = await join1(coordinator, "b");
    expect(b.generation).toBe(2);
    await coordinator.leave("collectors", b.memberId);
    expect(coordinator.describe("collectors").generation).toBe(3);
  });

  test("a joiner waits for partitions until their owner lets go", async () => {
    const { coordinator } = await setUp();
    let a = await join1(coordinator, "a");
    const b = await join1(coordinator, "b");
    expect(b.assignment).toEqual([]);
    expect(b.rebalancing).toBe(true);
    expect(coordinator.describe("collectors").state).toBe("rebalancing");
    // a still heartbeats at the old generation: it learns generation 2 and its smaller share, nothing moves yet.
    a = await ack(coordinator, a);
    expect(a.generation).toBe(2);
    expect(partitionsOf(a.assignment)).toHaveLength(6);
    expect(partitionsOf((await ack(coordinator, b)).assignment)).toEqual([]);
    // a acknowledges generation 2: b gets the rest.
    a = await ack(coordinator, a);
    const bNow = await ack(coordinator, b);
    expect(partitionsOf(bNow.assignment)).toHaveLength(6);
    expect([...partitionsOf(a.assignment), ...partitionsOf(bNow.assignment)].sort((x, y) => x - y)).toEqual([
      0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
    ]);
    expect(coordinator.describe("collectors").state).toBe("stable");
  });

  test("2 -> 3 members moves exactly 4 of 12 partitions; 3 -> 2 moves only the leaver's", async () => {
    const { coordinator } = await setUp();
    const settle = async (members: MemberAssignment[]) => {
      for (let round = 0; round < 2; round += 1) {
        for (const [index, member] of members.entries()) members[index] = await ack(coordinator, member);
      }
      return members;
    };
    const two = await settle([await join1(coordinator, "a"), await join1(coordinator, "b")]);
    const before = new Map(two.map((member) => [member.memberId, partitionsOf(member.assignment)]));
    const three = await settle([...two, await join1(coordinator, "c")]);
    let moved = 0;
    for (const member of three) {
      const kept = before.get(member.memberId) ?? [];
      moved += partitionsOf(member.assignment).filter((partition) => !kept.includes(partition)).length;
      expect(partitionsOf(member.assignment)).toHaveLength(4);
    }
    expect(moved).toBe(4);
    const leaver = three[2];
    if (leaver === undefined) throw new Error("three members expected");
    await coordinator.leave("collectors", leaver.memberId);
    const back = await settle(three.slice(0, 2));
    for (const member of back) {
      const previous = partitionsOf(three.find((entry) => entry.memberId === member.memberId)?.assignment ?? []);
      expect(partitionsOf(member.assignment)).toEqual(expect.arrayContaining(previous));
      expect(partitionsOf(member.assignment)).toHaveLength(6);
    }
  });

  test("a heartbeat listing a revoked partition in owned keeps it until a later heartbeat drops it", async () => {
    const { coordinator } = await setUp({ topics: { telemetry: 2 } });
    const a = await join1(coordinator, "a");
    const b = await join1(coordinator, "b");
    const revoked = coordinator.describe("collectors").members.find((m) => m.memberId === a.memberId)?.revoking ?? [];
    expect(revoked).toEqual([{ topic: "telemetry", partitions: [1] }]);
    await coordinator.heartbeat("collectors", a.memberId, b.generation, revoked);
    expect((await ack(coordinator, b)).assignment).toEqual([]);
    await coordinator.heartbeat("collectors", a.memberId, b.generation, []);
    expect((await ack(coordinator, b)).assignment).toEqual([{ topic: "telemetry", partitions: [1] }]);
  });

  test("a final commit of a revoked partition is accepted but only the next heartbeat hands it over", async () => {
    const { coordinator } = await setUp({ topics: { telemetry: 2 } });
    const a = await join1(coordinator, "a");
    const b = await join1(coordinator, "b");
    await coordinator.commit("collectors", a.memberId, b.generation, [
      { topic: "telemetry", partition: 0, offset: 5 },
      { topic: "telemetry", partition: 1, offset: 7 },
    ]);
    expect((await ack(coordinator, b)).assignment).toEqual([]);
    await coordinator.heartbeat("collectors", a.memberId, b.generation);
    expect((await ack(coordinator, b)).assignment).toEqual([{ topic: "telemetry", partitions: [1] }]);
    expect(coordinator.committedOffsets("collectors", "telemetry").offsets).toEqual([
      { partition: 0, offset: 5 },
      { partition: 1, offset: 7 },
    ]);
    const late = coordinator.commit("collectors", a.memberId, b.generation, [
      { topic: "telemetry", partition: 1, offset: 9 },
    ]);
    await expect(late).rejects.toBeInstanceOf(NotAssignedError);
  });

  test("join during a pending revoke: only partitions revoked at or before the acked generation move", async () => {
    const { coordinator } = await setUp();
    const a = await join1(coordinator, "a");
    const b = await join1(coordinator, "b"); // generation 2: a must give 6 to b
    const c = await join1(coordinator, "c"); // generation 3: a must also give 2 to c
    const atTwo = await coordinator.heartbeat("collectors", a.memberId, b.generation);
    expect(atTwo.generation).toBe(3);
    const view = coordinator.describe("collectors");
    const owned = new Map<string, number[]>();
    for (const m of view.members) owned.set(m.memberId, [...partitionsOf(m.assignment), ...partitionsOf(m.revoking)]);
    // a acked generation 2, which revoked b's share (and c's share taken from b's): those moved; generation 3's revocation did not.
    expect(owned.get(a.memberId)).toHaveLength(6);
    expect((owned.get(b.memberId) ?? []).length + (owned.get(c.memberId) ?? []).length).toBe(6);
    await ack(coordinator, atTwo);
    const final = coordinator.describe("collectors");
    expect(final.state).toBe("stable");
    expect(final.members.map((m) => partitionsOf(m.assignment).length)).toEqual([4, 4, 4]);
  });

  test("a member leaving with pending revokes frees them at once", async () => {
    const { coordinator } = await setUp();
    const a = await join1(coordinator, "a");
    const b = await join1(coordinator, "b");
    await coordinator.leave("collectors", a.memberId);
    const bNow = await ack(coordinator, b);
    expect(partitionsOf(bNow.assignment)).toHaveLength(12);
    expect(coordinator.describe("collectors").state).toBe("stable");
  });

  test("the joiner leaving before it got anything returns the revocations to the owner", async () => {
    const { coordinator } = await setUp();
    const a = await join1(coordinator, "a");
    const b = await join1(coordinator, "b");
    await coordinator.leave("collectors", b.memberId);
    const aNow = await ack(coordinator, a);
    expect(aNow.generation).toBe(3);
    expect(partitionsOf(aNow.assignment)).toHaveLength(12);
    expect(coordinator.describe("collectors").state).toBe("stable");
  });

  test("a silent member is evicted after its session timeout and its partitions move", async () => {
    const { coordinator, clock } = await setUp();
    const a = await join1(coordinator, "a", { sessionTimeoutMs: 1_000 });
    const b = await join1(coordinator, "b", { sessionTimeoutMs: 5_000 });
    clock.advance(1_000);
    expect(coordinator.tick()).toEqual([]);
    clock.advance(1);
    expect(coordinator.tick()).toEqual([
      { group: "collectors", memberId: a.memberId, clientId: "a", reason: "session_timeout" },
    ]);
    const bNow = await ack(coordinator, b);
    expect(partitionsOf(bNow.assignment)).toHaveLength(12);
    await expect(ack(coordinator, a)).rejects.toBeInstanceOf(UnknownMemberError);
    await expect(
      coordinator.commit("collectors", a.memberId, bNow.generation, [{ topic: "telemetry", partition: 0, offset: 1 }]),
    ).rejects.toBeInstanceOf(UnknownMemberError);
  });

  test("a member that never lets go of a revoked partition is fenced, then removed at its session timeout", async () => {
    const { coordinator, clock } = await setUp({ limits: { revocationTimeoutMs: 3_000 } });
    const a = await join1(coordinator, "a", { sessionTimeoutMs: 1_000 });
    const b = await join1(coordinator, "b", { sessionTimeoutMs: 1_000 });
    const revoking = coordinator.describe("collectors").members.find((m) => m.memberId === a.memberId)?.revoking ?? [];
    for (let round = 0; round < 3; round += 1) {
      clock.advance(900);
      // a stays alive but keeps listing the revoked partitions as still in use.
      await coordinator.heartbeat("collectors", a.memberId, b.generation, [
        ...(await ack(coordinator, b)).assignment,
        ...revoking,
      ]);
      expect(coordinator.tick()).toEqual([]);
    }
    clock.advance(301);
    expect(coordinator.tick()).toEqual([
      { group: "collectors", memberId: a.memberId, clientId: "a", reason: "revocation_timeout" },
    ]);
    expect(coordinator.describe("collectors").members.find((m) => m.memberId === a.memberId)?.fenced).toBe(true);
    await expect(ack(coordinator, a)).rejects.toBeInstanceOf(UnknownMemberError);
    // a's client may still be processing until its own session timer fires: b waits for that.
    expect((await ack(coordinator, b)).assignment).toEqual([]);
    clock.advance(700);
    expect(coordinator.tick()).toEqual([
      { group: "collectors", memberId: a.memberId, clientId: "a", reason: "session_timeout" },
    ]);
    expect(partitionsOf((await ack(coordinator, b)).assignment)).toHaveLength(12);
  });

  test("requests evict expired members even when tick has not run", async () => {
    const { coordinator, clock } = await setUp();
    const a = await join1(coordinator, "a", { sessionTimeoutMs: 1_000 });
    const b = await join1(coordinator, "b", { sessionTimeoutMs: 5_000 });
    clock.advance(2_000);
    await expect(ack(coordinator, a)).rejects.toBeInstanceOf(UnknownMemberError);
    expect(partitionsOf((await ack(coordinator, b)).assignment)).toHaveLength(12);
  });

  test("heartbeats keep a member alive", async () => {
    const { coordinator, clock } = await setUp();
    let a = await join1(coordinator, "a", { sessionTimeoutMs: 1_000 });
    for (let round = 0; round < 10; round += 1) {
      clock.advance(900);
      expect(coordinator.tick()).toEqual([]);
      a = await ack(coordinator, a);
    }
    expect(coordinator.describe("collectors").members).toHaveLength(1);
  });

  test("rejoining with a known id keeps the generation unless topics change", async () => {
    const { coordinator } = await setUp({ topics: { telemetry: 4, dlq: 2 } });
    const a = await join1(coordinator, "a");
    const again = await coordinator.join("collectors", { memberId: a.memberId, clientId: "a2", topics: ["telemetry"] });
    expect(again.generation).toBe(a.generation);
    const both = await coordinator.join("collectors", {
      memberId: a.memberId,
      clientId: "a2",
      topics: ["telemetry", "dlq"],
    });
    expect(both.generation).toBe(a.generation + 1);
    expect(both.assignment).toEqual([
      { topic: "dlq", partitions: [0, 1] },
      { topic: "telemetry", partitions: [0, 1, 2, 3] },
    ]);
    await expect(
      coordinator.join("collectors", { memberId: "nobody", clientId: "x", topics: ["telemetry"] }),
    ).rejects.toBeInstanceOf(UnknownMemberError);
  });

  test("describe and listGroups show members, assignment, revocations and offsets", async () => {
    const { coordinator } = await setUp({ topics: { telemetry: 2 } });
    const a = await join1(coordinator, "a");
    await coordinator.commit("collectors", a.memberId, a.generation, [{ topic: "telemetry", partition: 1, offset: 3 }]);
    const b = await join1(coordinator, "b");
    const view = coordinator.describe("collectors");
    expect(view.state).toBe("rebalancing");
    const aView = view.members.find((m) => m.memberId === a.memberId);
    const bView = view.members.find((m) => m.memberId === b.memberId);
    expect(aView?.assignment).toEqual([{ topic: "telemetry", partitions: [0] }]);
    expect(aView?.revoking).toEqual([{ topic: "telemetry", partitions: [1] }]);
    expect(bView?.awaiting).toEqual([{ topic: "telemetry", partitions: [1] }]);
    expect(view.offsets).toEqual([{ topic: "telemetry", partition: 1, offset: 3 }]);
    expect(coordinator.listGroups()).toEqual([
      { group: "collectors", state: "rebalancing", generation: 2, memberCount: 2 },
    ]);
    expect(() => coordinator.describe("nope")).toThrow(UnknownGroupError);
  });

  test("a group with no members and no offsets disappears, with its file", async () => {
    const { coordinator, dataDir } = await setUp();
    const a = await join1(coordinator, "a", { group: "streamers" });
    expect(await readdir(dataDir)).toEqual(["streamers.group.json"]);
    await coordinator.leave("streamers", a.memberId);
    expect(coordinator.listGroups()).toEqual([]);
    expect(await readdir(dataDir)).toEqual([]);
  });

  test("deleteGroup removes an empty group and its offsets, and refuses a group with members", async () => {
    const { coordinator, dataDir } = await setUp();
    const a = await join1(coordinator, "a");
    await coordinator.commit("collectors", a.memberId, a.generation, [{ topic: "telemetry", partition: 0, offset: 9 }]);
    await expect(coordinator.deleteGroup("collectors")).rejects.toThrow(/has 1 members/);
    await coordinator.leave("collectors", a.memberId);
    expect(coordinator.listGroups()).toEqual([{ group: "collectors", state: "empty", generation: 2, memberCount: 0 }]);
    await coordinator.deleteGroup("collectors");
    expect(coordinator.listGroups()).toEqual([]);
    expect(await readdir(dataDir)).toEqual([]);
    await expect(coordinator.deleteGroup("collectors")).rejects.toBeInstanceOf(UnknownGroupError);
  });

  test("a topic gaining partitions is rebalanced on tick", async () => {
    const { coordinator, topics } = await setUp({ topics: { telemetry: 2 } });
    const a = await join1(coordinator, "a");
    topics.set("telemetry", 4);
    coordinator.tick();
    const aNow = await ack(coordinator, a);
    expect(aNow.generation).toBe(2);
    expect(partitionsOf(aNow.assignment)).toEqual([0, 1, 2, 3]);
  });
});

describe("GroupCoordinator fencing", () => {
  test("a commit from a stale generation is refused with the current generation", async () => {
    const { coordinator } = await setUp();
    const a = await join1(coordinator, "a");
    await join1(coordinator, "b");
    const stale = coordinator.commit("collectors", a.memberId, a.generation, [
      { topic: "telemetry", partition: 0, offset: 1 },
    ]);
    await expect(stale).rejects.toBeInstanceOf(StaleGenerationError);
    await stale.catch((error: StaleGenerationError) => {
      expect(error.generationCurrent).toBe(2);
      expect(error.httpStatus).toBe(409);
      expect(error.code).toBe("stale_generation");
    });
    expect(coordinator.committedOffsets("collectors", "telemetry").offsets).toEqual([]);
  });

  test("a commit of a partition the member does not own is refused and stores nothing", async () => {
    const { coordinator } = await setUp();
    let a = await join1(coordinator, "a");
    const b = await join1(coordinator, "b");
    a = await ack(coordinator, a);
    a = await ack(coordinator, a);
    const bNow = await ack(coordinator, b);
    const foreign = partitionsOf(bNow.assignment)[0] ?? -1;
    const own = partitionsOf(a.assignment)[0] ?? -1;
    const attempt = coordinator.commit("collectors", a.memberId, a.generation, [
      { topic: "telemetry", partition: own, offset: 10 },
      { topic: "telemetry", partition: foreign, offset: 10 },
    ]);
    await expect(attempt).rejects.toBeInstanceOf(NotAssignedError);
    await attempt.catch((error: NotAssignedError) => expect(error.httpStatus).toBe(409));
    expect(coordinator.committedOffsets("collectors", "telemetry").offsets).toEqual([]);
  });

  test("heartbeats from an older generation than the member already used, or from the future, are refused", async () => {
    const { coordinator } = await setUp();
    const a = await join1(coordinator, "a");
    await join1(coordinator, "b");
    await coordinator.heartbeat("collectors", a.memberId, 2);
    await expect(coordinator.heartbeat("collectors", a.memberId, 1)).rejects.toBeInstanceOf(StaleGenerationError);
    await expect(coordinator.heartbeat("collectors", a.memberId, 3)).rejects.toBeInstanceOf(StaleGenerationError);
  });

  test("unknown member errors suggest rejoining and carry status 410", async () => {
    const { coordinator } = await setUp();
    await join1(coordinator, "a");
    const attempt = coordinator.heartbeat("collectors", "ghost", 1);
    await expect(attempt).rejects.toThrow(/join again without memberId/);
    await attempt.catch((error: UnknownMemberError) => expect(error.httpStatus).toBe(410));
    await expect(coordinator.leave("nogroup", "ghost")).rejects.toBeInstanceOf(UnknownMemberError);
  });
});

describe("GroupCoordinator offsets", () => {
  test("committed offsets and membership survive a restart on the same data dir", async () => {
    const first = await setUp();
    const a = await join1(first.coordinator, "a");
    await first.coordinator.commit("collectors", a.memberId, a.generation, [
      { topic: "telemetry", partition: 0, offset: 100 },
      { topic: "telemetry", partition: 11, offset: 7 },
    ]);
    await first.coordinator.close();
    const second = await setUp({ dataDir: first.dataDir });
    expect(second.coordinator.committedOffsets("collectors", "telemetry").offsets).toEqual([
      { partition: 0, offset: 100 },
      { partition: 11, offset: 7 },
    ]);
    // The member keeps its id, generation and partitions across the restart.
    const again = await second.coordinator.heartbeat("collectors", a.memberId, a.generation);
    expect(again.generation).toBe(a.generation);
    expect(partitionsOf(again.assignment)).toHaveLength(12);
    await second.coordinator.commit("collectors", a.memberId, a.generation, [
      { topic: "telemetry", partition: 0, offset: 101 },
    ]);
    expect(second.coordinator.committedOffsets("collectors", "telemetry").offsets[0]).toEqual({
      partition: 0,
      offset: 101,
    });
  });

  test("a pending hand-over survives a restart: the new owner still waits for the old one", async () => {
    const first = await setUp({ topics: { telemetry: 2 } });
    const a = await join1(first.coordinator, "a");
    const b = await join1(first.coordinator, "b");
    await first.coordinator.close();
    const second = await setUp({ dataDir: first.dataDir, topics: { telemetry: 2 } });
    expect((await ack(second.coordinator, b)).assignment).toEqual([]);
    await second.coordinator.heartbeat("collectors", a.memberId, b.generation);
    expect((await ack(second.coordinator, b)).assignment).toEqual([{ topic: "telemetry", partitions: [1] }]);
  });

  test("members restored after a restart are evicted when they stay silent", async () => {
    const first = await setUp();
    await join1(first.coordinator, "a", { sessionTimeoutMs: 1_000 });
    await first.coordinator.close();
    const second = await setUp({ dataDir: first.dataDir });
    second.clock.advance(1_001);
    expect(second.coordinator.tick()).toHaveLength(1);
  });

  test("checkpoints hold no clock readings: after a restart on a clock with another origin, sessions start anew", async () => {
    const first = await setUp();
    first.clock.advance(5_000_000);
    await join1(first.coordinator, "a", { sessionTimeoutMs: 1_000 });
    await first.coordinator.close();
    const text = await Bun.file(join(first.dataDir, "collectors.group.json")).text();
    expect(text).not.toMatch(/lastSeen|Since|"[a-zA-Z]*(?<!sessionTimeout)Ms"/);
    // A new process: its monotonic clock starts near 0, far below the first one's readings.
    const clock = new ManualClock(0);
    const reopened = await GroupCoordinator.open({
      dataDir: first.dataDir,
      clock: clock.now,
      partitionCount: () => 12,
    });
    coordinators.push(reopened);
    expect(reopened.describe("collectors").members[0]?.silentMs).toBe(0);
    clock.advance(1_000);
    expect(reopened.tick()).toEqual([]);
    clock.advance(1);
    expect(reopened.tick().map((evicted) => evicted.reason)).toEqual(["session_timeout"]);
  });

  test("silentMs is whole milliseconds, as a monotonic clock's fractions are not", async () => {
    const { coordinator, clock } = await setUp();
    clock.advance(0.25);
    await join1(coordinator, "a");
    clock.advance(10.6);
    expect(coordinator.describe("collectors").members[0]?.silentMs).toBe(10);
  });

  test("a corrupt checkpoint stops the load with the file path; leftover temporaries are removed", async () => {
    const { coordinator, dataDir } = await setUp();
    await join1(coordinator, "a");
    await coordinator.close();
    await writeFile(join(dataDir, "x.group.json.tmp"), "half");
    const reopened = await GroupCoordinator.open({ dataDir, clock: new ManualClock().now, partitionCount: () => 12 });
    await reopened.close();
    expect(await readdir(dataDir)).toEqual(["collectors.group.json"]);
    await writeFile(join(dataDir, "collectors.group.json"), '{"format":1,"group":"collectors"');
    const broken = GroupCoordinator.open({ dataDir, clock: new ManualClock().now, partitionCount: () => 12 });
    await expect(broken).rejects.toThrow(/collectors\.group\.json is not JSON/);
  });

  test("reset policy: earliest by default, latest when asked; out-of-range commits fall back to it", async () => {
    const { coordinator } = await setUp();
    const a = await join1(coordinator, "a");
    const bounds = { logStartOffset: 10, highWatermark: 50 };
    expect(coordinator.committedOffsets("collectors", "telemetry").resetPolicy).toBe("earliest");
    expect(coordinator.startOffset("collectors", "telemetry", 0, bounds)).toBe(10);
    await coordinator.join("collectors", {
      memberId: a.memberId,
      clientId: "a",
      topics: ["telemetry"],
      resetPolicy: "latest",
    });
    expect(coordinator.startOffset("collectors", "telemetry", 0, bounds)).toBe(50);
    await coordinator.commit("collectors", a.memberId, a.generation, [
      { topic: "telemetry", partition: 0, offset: 20 },
      { topic: "telemetry", partition: 1, offset: 5 },
    ]);
    expect(coordinator.startOffset("collectors", "telemetry", 0, bounds)).toBe(20);
    expect(coordinator.startOffset("collectors", "telemetry", 1, bounds)).toBe(50);
  });

  test("lag per partition from committed offsets, reset policy and high watermarks", async () => {
    const { coordinator } = await setUp({ topics: { telemetry: 3 } });
    const a = await join1(coordinator, "a");
    await coordinator.commit("collectors", a.memberId, a.generation, [
      { topic: "telemetry", partition: 0, offset: 40 },
    ]);
    const boundsOf = (_topic: string, partition: number) =>
      partition === 2 ? undefined : { logStartOffset: 10, highWatermark: 100 };
    const lag = coordinator.lag("collectors", boundsOf);
    expect(lag.partitions).toEqual([
      { topic: "telemetry", partition: 0, committed: 40, highWatermark: 100, lag: 60, memberId: a.memberId },
      { topic: "telemetry", partition: 1, committed: null, highWatermark: 100, lag: 90, memberId: a.memberId },
    ]);
    expect(lag.totalLag).toBe(150);
    expect(coordinator.lagAll(boundsOf).map((entry) => entry.group)).toEqual(["collectors"]);
  });

  test("concurrent commits are acknowledged durably and share flush rounds", async () => {
    const { coordinator, dataDir } = await setUp({ topics: { telemetry: 64 } });
    const members: MemberAssignment[] = [];
    for (let index = 0; index < 8; index += 1) {
      members.push(await coordinator.join(`g${index}`, { clientId: `c${index}`, topics: ["telemetry"] }));
    }
    const roundsBefore = coordinator.flushRoundCount;
    const commits: Promise<unknown>[] = [];
    for (const [index, member] of members.entries()) {
      for (let partition = 0; partition < 64; partition += 1) {
        commits.push(
          coordinator.commit(`g${index}`, member.memberId, member.generation, [
            { topic: "telemetry", partition, offset: partition + 1 },
          ]),
        );
      }
    }
    await Promise.all(commits);
    const rounds = coordinator.flushRoundCount - roundsBefore;
    expect(rounds).toBeGreaterThanOrEqual(1);
    expect(rounds).toBeLessThan(commits.length / 8);
    await coordinator.close();
    const reopened = await setUp({ dataDir, topics: { telemetry: 64 } });
    expect(reopened.coordinator.committedOffsets("g7", "telemetry").offsets).toHaveLength(64);
  });
});

describe("GroupCoordinator offset reset", () => {
  const bounds = () => ({ logStartOffset: 10, highWatermark: 500 });
  const reset = { topic: "telemetry", offsets: [{ partition: 1, offset: 20 }], dryRun: false };

  test("moves offsets of unowned partitions durably, refuses owned ones and offsets outside the log", async () => {
    const { coordinator, clock, dataDir } = await setUp({ topics: { telemetry: 2 } });
    const a = await join1(coordinator, "a", { sessionTimeoutMs: 1_000 });
    await coordinator.commit("collectors", a.memberId, a.generation, [
      { topic: "telemetry", partition: 0, offset: 400 },
      { topic: "telemetry", partition: 1, offset: 300 },
    ]);
    const owned = await coordinator.resetOffsets("collectors", reset, bounds).catch((error: unknown) => error);
    expect(owned).toBeInstanceOf(PartitionOwnedError);
    expect((owned as PartitionOwnedError).message).toContain("telemetry/1");
    expect((owned as PartitionOwnedError).httpStatus).toBe(409);
    // The member dies: once its session ran out, its partitions are free to move.
    clock.advance(1_500);
    const done = await coordinator.resetOffsets("collectors", reset, bounds);
    expect(done).toEqual({
      group: "collectors",
      topic: "telemetry",
      dryRun: false,
      partitions: [{ partition: 1, before: 300, after: 20, logStartOffset: 10, highWatermark: 500 }],
    });
    expect(coordinator.committedOffsets("collectors", "telemetry").offsets).toEqual([
      { partition: 0, offset: 400 },
      { partition: 1, offset: 20 },
    ]);
    const outside = { ...reset, offsets: [{ partition: 0, offset: 501 }] };
    await expect(coordinator.resetOffsets("collectors", outside, bounds)).rejects.toBeInstanceOf(
      InvalidGroupRequestError,
    );
    const below = { ...reset, offsets: [{ partition: 0, offset: 9 }] };
    await expect(coordinator.resetOffsets("collectors", below, bounds)).rejects.toBeInstanceOf(
      InvalidGroupRequestError,
    );
    // A group that does not exist is created with the offsets (seeding a group before its members start).
    expect((await coordinator.resetOffsets("fresh", reset, bounds)).partitions[0]?.before).toBeNull();
    expect(coordinator.describe("fresh").state).toBe("empty");
    await coordinator.close();
    const { coordinator: reopened } = await setUp({ dataDir, topics: { telemetry: 2 } });
    expect(reopened.committedOffsets("collectors", "telemetry").offsets).toContainEqual({ partition: 1, offset: 20 });
  });

  test("all or nothing: one bad partition moves none; a dry run answers the plan and moves nothing", async () => {
    const { coordinator } = await setUp({ topics: { telemetry: 3 } });
    await coordinator.resetOffsets("g", { ...reset, offsets: [{ partition: 0, offset: 100 }] }, bounds);
    const mixed = {
      ...reset,
      offsets: [
        { partition: 0, offset: 50 },
        { partition: 2, offset: 9_999 },
      ],
    };
    await expect(coordinator.resetOffsets("g", mixed, bounds)).rejects.toThrow(/offset 9999 of telemetry\/2 outside/);
    const twice = {
      ...reset,
      offsets: [
        { partition: 0, offset: 50 },
        { partition: 0, offset: 60 },
      ],
    };
    await expect(coordinator.resetOffsets("g", twice, bounds)).rejects.toThrow(/telemetry\/0 named twice/);
    expect(coordinator.committedOffsets("g", "telemetry").offsets).toEqual([{ partition: 0, offset: 100 }]);
    const plan = await coordinator.resetOffsets(
      "g",
      {
        topic: "telemetry",
        offsets: [
          { partition: 2, offset: 11 },
          { partition: 0, offset: 10 },
        ],
        dryRun: true,
      },
      bounds,
    );
    expect(plan.dryRun).toBe(true);
    expect(plan.partitions.map((entry) => [entry.partition, entry.before, entry.after])).toEqual([
      [0, 100, 10],
      [2, null, 11],
    ]);
    expect(coordinator.committedOffsets("g", "telemetry").offsets).toEqual([{ partition: 0, offset: 100 }]);
    // A dry run of a group that does not exist creates nothing.
    await coordinator.resetOffsets("ghost", { ...reset, dryRun: true }, bounds);
    expect(() => coordinator.describe("ghost")).toThrow(UnknownGroupError);
  });
});

describe("GroupCoordinator and deleted topics", () => {
  test("names the groups subscribed to a topic; forgetting a topic drops its offsets durably and idle groups", async () => {
    const { coordinator, dataDir } = await setUp({ topics: { telemetry: 2, other: 1 } });
    const a = await join1(coordinator, "a");
    await coordinator.commit("collectors", a.memberId, a.generation, [{ topic: "telemetry", partition: 0, offset: 7 }]);
    const bounds = () => ({ logStartOffset: 0, highWatermark: 100 });
    const offsets = (topic: string, partition: number, offset: number) => ({
      topic,
      offsets: [{ partition, offset }],
      dryRun: false,
    });
    await coordinator.resetOffsets("archive", offsets("telemetry", 1, 5), bounds);
    await coordinator.resetOffsets("mixed", offsets("telemetry", 1, 5), bounds);
    await coordinator.resetOffsets("mixed", offsets("other", 0, 3), bounds);
    expect(coordinator.groupsSubscribedTo("telemetry")).toEqual(["collectors"]);
    expect(coordinator.groupsSubscribedTo("other")).toEqual([]);

    expect(await coordinator.forgetTopic("telemetry")).toEqual(["archive", "collectors", "mixed"]);
    expect(coordinator.committedOffsets("collectors", "telemetry").offsets).toEqual([]);
    expect(coordinator.committedOffsets("mixed", "other").offsets).toEqual([{ partition: 0, offset: 3 }]);
    // "archive" had nothing else: no members, no offsets, so it is gone.
    expect(() => coordinator.describe("archive")).toThrow(UnknownGroupError);
    expect(await coordinator.forgetTopic("telemetry")).toEqual([]);
    await coordinator.close();

    const { coordinator: reopened } = await setUp({ dataDir, topics: { telemetry: 2, other: 1 } });
    expect(reopened.listGroups().map((group) => group.group)).toEqual(["collectors", "mixed"]);
    expect(reopened.committedOffsets("mixed", "telemetry").offsets).toEqual([]);
    expect(reopened.committedOffsets("mixed", "other").offsets).toEqual([{ partition: 0, offset: 3 }]);
  });
});

describe("GroupCoordinator limits", () => {
  test("members per group, groups and partitions per group are bounded with clear errors", async () => {
    const { coordinator } = await setUp({
      limits: { membersPerGroupMax: 2, groupsMax: 2, partitionsPerGroupMax: 20 },
      topics: { telemetry: 12, big: 30 },
    });
    await join1(coordinator, "a");
    await join1(coordinator, "b");
    const third = join1(coordinator, "c");
    await expect(third).rejects.toBeInstanceOf(GroupLimitError);
    await expect(join1(coordinator, "c")).rejects.toThrow(/group is full \(membersPerGroupMax 2\)/);
    await join1(coordinator, "d", { group: "other" });
    await expect(join1(coordinator, "e", { group: "third" })).rejects.toThrow(/groupsMax 2/);
    await expect(coordinator.join("other", { clientId: "f", topics: ["big"] })).rejects.toThrow(
      /partitionsPerGroupMax 20/,
    );
    await third.catch((error: GroupLimitError) => expect(error.httpStatus).toBe(429));
  });

  test("bad names, session timeouts, topic counts and offsets are refused as bad requests", async () => {
    const { coordinator } = await setUp({ limits: { topicsPerMemberMax: 2, offsetsPerCommitMax: 2 } });
    await expect(coordinator.join("bad/name", { clientId: "a", topics: ["telemetry"] })).rejects.toBeInstanceOf(
      InvalidGroupRequestError,
    );
    await expect(join1(coordinator, "a", { sessionTimeoutMs: 50 })).rejects.toThrow(/sessionTimeoutMs 50 outside/);
    await expect(join1(coordinator, "a", { sessionTimeoutMs: 400_000 })).rejects.toThrow(/sessionTimeoutMsMax 300000/);
    await expect(coordinator.join("g", { clientId: "a", topics: ["telemetry", "x", "y"] })).rejects.toThrow(
      /topicsPerMemberMax 2/,
    );
    await expect(coordinator.join("g", { clientId: "a", topics: ["missing"] })).rejects.toBeInstanceOf(
      UnknownTopicError,
    );
    await expect(coordinator.join("g", { clientId: "", topics: ["telemetry"] })).rejects.toThrow(/clientId/);
    const a = await join1(coordinator, "a");
    const offsets = [0, 1, 2].map((partition) => ({ topic: "telemetry", partition, offset: 1 }));
    await expect(coordinator.commit("collectors", a.memberId, a.generation, offsets)).rejects.toThrow(
      /offsetsPerCommitMax 2/,
    );
    await expect(
      coordinator.commit("collectors", a.memberId, a.generation, [{ topic: "telemetry", partition: 0, offset: -1 }]),
    ).rejects.toThrow(/not a non-negative integer/);
    expect(coordinator.listGroups().map((group) => group.group)).toEqual(["collectors"]);
  });

  test("inconsistent limits are refused at start", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "groups-"));
    directories.push(dataDir);
    const open = GroupCoordinator.open({
      dataDir,
      clock: new ManualClock().now,
      partitionCount: () => 1,
      limits: { sessionTimeoutMsMin: 5_000, sessionTimeoutMsDefault: 1_000 },
    });
    await expect(open).rejects.toThrow(/sessionTimeoutMsMin 5000 <= sessionTimeoutMsDefault 1000/);
  });
});

describe("GroupCoordinator static membership", () => {
  const staticJoin = (coordinator: GroupCoordinator, clientId: string, instanceId: string, memberId?: string) =>
    coordinator.join("collectors", {
      clientId,
      instanceId,
      topics: ["telemetry"],
      sessionTimeoutMs: 2_000,
      ...(memberId === undefined ? {} : { memberId }),
    });

  test("a restart with the same instance id takes the partitions back at once; the old id is fenced", async () => {
    const { coordinator, clock } = await setUp({ topics: { telemetry: 4 } });
    const a = await staticJoin(coordinator, "a", "collector-1");
    const b = await staticJoin(coordinator, "b", "collector-2");
    let settledA = await ack(coordinator, await ack(coordinator, a));
    const settledB = await ack(coordinator, await ack(coordinator, b));
    settledA = await ack(coordinator, settledA);
    const before = coordinator.describe("collectors");
    expect(before.state).toBe("stable");
    // collector-1 is killed and its replacement starts 300 ms later, long before its session ends.
    clock.advance(300);
    const restarted = await staticJoin(coordinator, "a again", "collector-1");
    expect(restarted.memberId).not.toBe(a.memberId);
    expect(restarted.generation).toBe(before.generation);
    expect(partitionsOf(restarted.assignment)).toEqual(partitionsOf(settledA.assignment));
    expect(restarted.rebalancing).toBe(false);
    const after = coordinator.describe("collectors");
    expect(after.members.map((member) => member.instanceId).sort()).toEqual(["collector-1", "collector-2"]);
    expect(partitionsOf((await ack(coordinator, settledB)).assignment)).toEqual(partitionsOf(settledB.assignment));
    // The old process, were it still running, is refused for good: heartbeat, commit and leave.
    const offsets = [{ topic: "telemetry", partition: partitionsOf(settledA.assignment)[0]!, offset: 5 }];
    for (const attempt of [
      coordinator.heartbeat("collectors", a.memberId, settledA.generation),
      coordinator.commit("collectors", a.memberId, settledA.generation, offsets),
      coordinator.leave("collectors", a.memberId),
    ]) {
      const error = await attempt.catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(FencedInstanceError);
      expect((error as FencedInstanceError).httpStatus).toBe(410);
    }
    // The new member commits at the generation it was given.
    await coordinator.commit("collectors", restarted.memberId, restarted.generation, offsets);
  });

  test("a static member that does not come back is evicted after its session and its partitions move", async () => {
    const { coordinator, clock } = await setUp({ topics: { telemetry: 4 } });
    const a = await staticJoin(coordinator, "a", "streamer-1");
    const b = await staticJoin(coordinator, "b", "streamer-2");
    await ack(coordinator, await ack(coordinator, a));
    clock.advance(1_500);
    await ack(coordinator, b);
    clock.advance(1_000);
    expect(coordinator.tick().map((event) => event.clientId)).toEqual(["a"]);
    const bNow = await ack(coordinator, await ack(coordinator, b));
    expect(partitionsOf(bNow.assignment)).toEqual([0, 1, 2, 3]);
    // The instance comes back later: an ordinary join (a rebalance), nothing to replace.
    const back = await staticJoin(coordinator, "a", "streamer-1");
    expect(back.generation).toBeGreaterThan(bNow.generation);
  });

  test("the instance ids and the fenced ids survive a restart of the coordinator", async () => {
    const { coordinator, dataDir } = await setUp({ topics: { telemetry: 2 } });
    const a = await staticJoin(coordinator, "a", "collector-1");
    const replaced = await staticJoin(coordinator, "a2", "collector-1");
    await coordinator.close();
    const { coordinator: reopened } = await setUp({ dataDir, topics: { telemetry: 2 } });
    expect(reopened.describe("collectors").members.map((member) => [member.memberId, member.instanceId])).toEqual([
      [replaced.memberId, "collector-1"],
    ]);
    expect(reopened.heartbeat("collectors", a.memberId, a.generation)).rejects.toBeInstanceOf(FencedInstanceError);
    const third = await staticJoin(reopened, "a3", "collector-1");
    expect(partitionsOf(third.assignment)).toEqual([0, 1]);
  });
});
