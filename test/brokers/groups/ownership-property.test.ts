import { afterAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GroupError, NotAssignedError } from "../../../brokers/groups/errors.ts";
import { GroupCoordinator } from "../../../brokers/groups/group-coordinator.ts";
import type { Assignment, MemberAssignment } from "../../../src/broker-protocol/group-protocol.ts";
import { ManualClock } from "../../../src/runtime/clock.ts";

/**
 * Randomized sequences of joins (some static, with an instance id), heartbeats (some
 * answers lost), commits, leaves, freezes (a member stops talking but keeps processing
 * until its own session timer says stop), crashes of static members followed by a
 * restart with the same instance id, and clock jumps. After every step: every partition a client processes
 * is owned by that client on the broker, so no two clients process one partition.
 * At the end, once everyone heartbeats, the group is stable, complete and balanced.
 */

const topics = { telemetry: 12, dlq: 3 } as const;
const sessionTimeoutMs = 1_000;
const clientsMax = 7;
const revocationTimeoutMs = 1_500;
const seeds = Array.from({ length: 24 }, (_, index) => index + 1);
const stepsPerSeed = 1_000;

// Tmpfs when there is one: the invariant is about ownership, not fsync speed.
const scratchRoot = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
const directories: string[] = [];
afterAll(async () => {
  for (const directory of directories) await rm(directory, { recursive: true, force: true });
});

/** mulberry32: small, seeded, good enough to drive a simulation. */
function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface SimClient {
  name: string;
  memberId: string;
  generation: number;
  /** Partitions of the last assignment received. */
  assigned: Set<string>;
  /** Partitions taken away that the client is still finishing (listed in `owned`). */
  draining: Set<string>;
  lastSuccessMs: number;
  frozen: boolean;
  topics: string[];
  /** Static members only. */
  instanceId?: string;
}

const processingOf = (client: SimClient) => new Set([...client.assigned, ...client.draining]);
const stopAll = (client: SimClient) => {
  client.assigned.clear();
  client.draining.clear();
};

const keysOf = (assignment: Assignment) =>
  new Set(assignment.flatMap((entry) => entry.partitions.map((partition) => `${entry.topic}/${partition}`)));

class Simulation {
  readonly clock = new ManualClock(0);
  readonly clients: SimClient[] = [];
  coordinator!: GroupCoordinator;
  private joinedCount = 0;
  /** Final phase: clients stop what is taken away at once. */
  private settling = false;
  readonly counts = {
    joins: 0,
    heartbeats: 0,
    lost: 0,
    commits: 0,
    refused: 0,
    leaves: 0,
    freezes: 0,
    evictions: 0,
    fenced: 0,
    revocationFenced: 0,
    restarts: 0,
    replacements: 0,
  };

  constructor(readonly random: () => number) {}

  private dataDir = "";

  async start(): Promise<void> {
    this.dataDir = await mkdtemp(join(scratchRoot, "groups-property-"));
    directories.push(this.dataDir);
    await this.open();
  }

  /** The broker restarts: membership and ownership come back from the checkpoints. */
  async restart(): Promise<void> {
    await this.coordinator.close();
    await this.open();
    this.counts.restarts += 1;
  }

  private async open(): Promise<void> {
    this.coordinator = await GroupCoordinator.open({
      dataDir: this.dataDir,
      clock: this.clock.now,
      partitionCount: (topic) => topics[topic as keyof typeof topics],
      limits: { sessionTimeoutMsMin: 100, revocationTimeoutMs },
    });
  }

  pick<T>(items: readonly T[]): T | undefined {
    return items[Math.floor(this.random() * items.length)];
  }

  async step(): Promise<void> {
    const roll = this.random();
    const live = this.clients.filter((client) => !client.frozen);
    if (roll < 0.01) await this.restart();
    else if (roll < 0.08 && this.clients.length < clientsMax) await this.join();
    else if (roll < 0.55) await this.heartbeat(this.pick(live));
    else if (roll < 0.7) await this.commit(this.pick(live));
    else if (roll < 0.74) await this.leave(this.pick(live));
    else if (roll < 0.78) this.freeze(this.pick(live));
    else if (roll < 0.82) this.thaw(this.pick(this.clients.filter((client) => client.frozen)));
    else if (roll < 0.86) this.finishDraining(this.pick(live));
    else if (roll < 0.88) await this.crashAndRestart(this.pick(this.clients.filter((client) => client.instanceId)));
    else if (roll < 0.95) this.clock.advance(Math.floor(this.random() * sessionTimeoutMs * 0.6));
    else {
      const events = this.coordinator.tick();
      this.counts.evictions += events.filter((event) => event.reason === "session_timeout").length;
      this.counts.revocationFenced += events.filter((event) => event.reason === "revocation_timeout").length;
    }
    this.selfFence();
  }

  async join(options: { instanceId?: string; topics?: string[] } = {}): Promise<SimClient> {
    this.joinedCount += 1;
    const name = `client-${this.joinedCount}`;
    const subscribed = options.topics ?? (this.random() < 0.7 ? ["telemetry", "dlq"] : ["telemetry"]);
    const instanceId = options.instanceId ?? (this.random() < 0.4 ? `instance-${this.joinedCount}` : undefined);
    const request = { clientId: name, topics: subscribed, sessionTimeoutMs };
    const answer = await this.coordinator.join("g", instanceId === undefined ? request : { ...request, instanceId });
    const client: SimClient = {
      name,
      memberId: answer.memberId,
      generation: 0,
      assigned: new Set(),
      draining: new Set(),
      lastSuccessMs: this.clock.now(),
      frozen: false,
      topics: subscribed,
      ...(instanceId === undefined ? {} : { instanceId }),
    };
    this.clients.push(client);
    await this.adopt(client, answer);
    this.counts.joins += 1;
    return client;
  }

  /**
   * A static member's process dies (it processes nothing any more) and its
   * replacement joins with the same instance id: it gets the dead one's partitions at
   * once, and the dead one's member id is fenced for good.
   */
  async crashAndRestart(client: SimClient | undefined): Promise<void> {
    if (client?.instanceId === undefined) return;
    this.drop(client);
    // Members whose session ran out go first (a join evicts them too), so what follows is the replacement alone.
    this.counts.evictions += this.coordinator.tick().filter((event) => event.reason === "session_timeout").length;
    const group = this.coordinator.listGroups().some((entry) => entry.group === "g")
      ? this.coordinator.describe("g")
      : undefined;
    const wasMember = group?.members.some((member) => member.memberId === client.memberId) === true;
    const generationBefore = group?.generation;
    const replacement = await this.join({ instanceId: client.instanceId, topics: client.topics });
    if (wasMember) {
      // The old member was still there (not evicted yet): it was replaced without a rebalance.
      expect(replacement.generation).toBe(generationBefore ?? -1);
      const fenced = await this.coordinator.heartbeat("g", client.memberId, client.generation).catch((e) => e);
      expect((fenced as GroupError).code).toBe("fenced_instance");
      this.counts.replacements += 1;
    }
  }

  /**
   * The client switches to the answer's assignment. What was taken away it either
   * stops at once (maybe with a final commit) or keeps finishing for a while.
   */
  async adopt(client: SimClient, answer: MemberAssignment): Promise<void> {
    const next = keysOf(answer.assignment);
    const removed = [...client.assigned].filter((key) => !next.has(key));
    client.assigned = next;
    for (const key of next) client.draining.delete(key);
    client.generation = answer.generation;
    client.lastSuccessMs = this.clock.now();
    if (removed.length > 0 && !this.settling && this.random() < 0.3) {
      for (const key of removed) client.draining.add(key);
      return;
    }
    const stopped = removed;
    if (stopped.length === 0 || this.random() < 0.5) return;
    const offsets = stopped.map((key) => {
      const [topic = "", partition = "0"] = key.split("/");
      return { topic, partition: Number(partition), offset: 1 };
    });
    // A final commit right after learning the generation must succeed: the client still owns these.
    await this.coordinator.commit("g", client.memberId, client.generation, offsets);
    this.counts.commits += 1;
  }

  async heartbeat(client: SimClient | undefined): Promise<void> {
    if (client === undefined) return;
    this.counts.heartbeats += 1;
    try {
      const answer = await this.coordinator.heartbeat("g", client.memberId, client.generation, this.ownedOf(client));
      if (this.random() < 0.1) {
        this.counts.lost += 1;
        return;
      }
      await this.adopt(client, answer);
    } catch (error) {
      this.expectRefusal(error);
      this.drop(client);
    }
  }

  async commit(client: SimClient | undefined): Promise<void> {
    if (client === undefined) return;
    const keys = [...processingOf(client)].filter(() => this.random() < 0.5);
    if (keys.length === 0) return;
    const offsets = keys.map((key) => {
      const [topic = "", partition = "0"] = key.split("/");
      return { topic, partition: Number(partition), offset: Math.floor(this.random() * 1_000) };
    });
    try {
      await this.coordinator.commit("g", client.memberId, client.generation, offsets);
      client.lastSuccessMs = this.clock.now();
      this.counts.commits += 1;
    } catch (error) {
      this.counts.refused += 1;
      // Never NotAssigned: what a client processes is always its own.
      expect(error).not.toBeInstanceOf(NotAssignedError);
      this.expectRefusal(error);
      if ((error as GroupError).code === "unknown_member") this.drop(client);
    }
  }

  async leave(client: SimClient | undefined): Promise<void> {
    if (client === undefined) return;
    stopAll(client);
    try {
      await this.coordinator.leave("g", client.memberId);
    } catch (error) {
      this.expectRefusal(error);
    }
    this.drop(client);
    this.counts.leaves += 1;
  }

  /** `owned` for a heartbeat: sent when draining (must be), and sometimes otherwise. */
  ownedOf(client: SimClient): Assignment | undefined {
    if (client.draining.size === 0 && this.random() < 0.5) return undefined;
    const byTopic = new Map<string, number[]>();
    for (const key of processingOf(client)) {
      const [topic = "", partition = "0"] = key.split("/");
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), Number(partition)]);
    }
    return [...byTopic.entries()].map(([topic, partitions]) => ({ topic, partitions }));
  }

  finishDraining(client: SimClient | undefined): void {
    client?.draining.clear();
  }

  freeze(client: SimClient | undefined): void {
    if (client === undefined) return;
    client.frozen = true;
    this.counts.freezes += 1;
  }

  thaw(client: SimClient | undefined): void {
    if (client !== undefined) client.frozen = false;
  }

  /** Client-side session timer: no successful exchange for a session timeout means stop everything. */
  selfFence(): void {
    for (const client of this.clients) {
      if (processingOf(client).size > 0 && this.clock.now() - client.lastSuccessMs >= sessionTimeoutMs) {
        stopAll(client);
        this.counts.fenced += 1;
      }
    }
  }

  drop(client: SimClient): void {
    stopAll(client);
    this.clients.splice(this.clients.indexOf(client), 1);
  }

  expectRefusal(error: unknown): void {
    expect(error).toBeInstanceOf(GroupError);
    expect(["stale_generation", "unknown_member", "fenced_instance"]).toContain((error as GroupError).code);
  }

  /** Every processed partition is owned by its processor on the broker. */
  checkSafety(context: string): void {
    const owners = this.brokerOwners();
    const seen = new Map<string, string>();
    for (const client of this.clients) {
      for (const key of processingOf(client)) {
        const other = seen.get(key);
        if (other !== undefined) throw new Error(`${context}: ${key} processed by ${other} and ${client.name}`);
        seen.set(key, client.name);
        if (owners.get(key) !== client.memberId) {
          const view = JSON.stringify(this.coordinator.describe("g"), null, 1);
          const state = JSON.stringify({ ...client, assigned: [...client.assigned], draining: [...client.draining] });
          throw new Error(
            `${context}: ${client.name} processes ${key} owned on the broker by ${owners.get(key)}\n${state}\n${view}`,
          );
        }
      }
    }
  }

  readonly fencedSeen = new Set<string>();

  brokerOwners(): Map<string, string> {
    const owners = new Map<string, string>();
    if (!this.coordinator.listGroups().some((group) => group.group === "g")) return owners;
    for (const member of this.coordinator.describe("g").members) {
      if (member.fenced) this.fencedSeen.add(member.memberId);
      for (const key of [...keysOf(member.assignment), ...keysOf(member.revoking)]) {
        if (owners.has(key)) throw new Error(`broker: ${key} owned twice`);
        owners.set(key, member.memberId);
      }
    }
    return owners;
  }

  /** A heartbeat whose answer arrives; an evicted client is dropped. */
  async heartbeatReliably(client: SimClient): Promise<void> {
    try {
      const answer = await this.coordinator.heartbeat("g", client.memberId, client.generation, this.ownedOf(client));
      await this.adopt(client, answer);
    } catch (error) {
      this.expectRefusal(error);
      this.drop(client);
    }
  }

  /** Everyone wakes up and heartbeats until nothing changes; then the group is stable, complete and balanced. */
  async settle(): Promise<void> {
    this.settling = true;
    for (const client of this.clients) {
      client.frozen = false;
      client.draining.clear();
    }
    for (let round = 0; round < 6; round += 1) {
      for (const client of [...this.clients]) {
        await this.heartbeatReliably(client);
        this.checkSafety(`settle round ${round}`);
      }
      // Twice more than half a session: fenced members (their clients dropped) time out; live ones heartbeat.
      if (round < 2) this.clock.advance(Math.ceil(sessionTimeoutMs * 0.6));
    }
    if (this.clients.length === 0) return;
    const view = this.coordinator.describe("g");
    expect(view.state).toBe("stable");
    const processed = this.clients.flatMap((client) => [...processingOf(client)]);
    const subscribed = new Set(this.clients.flatMap((client) => client.topics));
    const expected = [...subscribed].reduce((sum, topic) => sum + topics[topic as keyof typeof topics], 0);
    expect(new Set(processed).size).toBe(expected);
    expect(processed).toHaveLength(expected);
    const telemetryCounts = view.members.map(
      (member) => member.assignment.find((entry) => entry.topic === "telemetry")?.partitions.length ?? 0,
    );
    expect(Math.max(...telemetryCounts) - Math.min(...telemetryCounts)).toBeLessThanOrEqual(1);
  }
}

let replacementsSeen = 0;

describe("partition ownership under random membership churn", () => {
  for (const seed of seeds) {
    test(`seed ${seed}: no partition is processed by two clients, and the group converges`, async () => {
      const simulation = new Simulation(createRandom(seed));
      await simulation.start();
      for (let stepIndex = 0; stepIndex < stepsPerSeed; stepIndex += 1) {
        await simulation.step();
        simulation.checkSafety(`seed ${seed} step ${stepIndex}`);
      }
      await simulation.settle();
      await simulation.coordinator.close();
      simulation.counts.revocationFenced = simulation.fencedSeen.size;
      if (process.env.GROUPS_PROPERTY_VERBOSE === "1") console.log(seed, simulation.counts);
      const { joins, heartbeats, commits } = simulation.counts;
      replacementsSeen += simulation.counts.replacements;
      expect(joins).toBeGreaterThan(0);
      expect(heartbeats).toBeGreaterThan(50);
      expect(commits).toBeGreaterThan(0);
    });
  }
  test("static members were replaced without a rebalance in the runs above", () => {
    expect(replacementsSeen).toBeGreaterThan(10);
  });
});
