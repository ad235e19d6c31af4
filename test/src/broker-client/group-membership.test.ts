import { afterEach, describe, expect, test } from "bun:test";
import { Admin } from "../../../src/broker-client/admin.ts";
import { GroupClient } from "../../../src/broker-client/group-client.ts";
import {
  GroupMembership,
  type GroupMembershipOptions,
  type PartitionKey,
  type RevokeCause,
} from "../../../src/broker-client/group-membership.ts";
import { BrokerHttp } from "../../../src/broker-client/http-client.ts";
import { startTestBroker, type TestBroker } from "../../brokers/server/test-broker.ts";
import { testBrokerToken } from "../../support/test-tokens.ts";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** Everything a member was told, in order, with the member's view of ownership at that moment. */
interface Recorder {
  events: string[];
  held: Set<PartitionKey>;
}

function member(
  broker: TestBroker,
  name: string,
  overrides: Partial<GroupMembershipOptions> & { revokeDelayMs?: number } = {},
) {
  const recorder: Recorder = { events: [], held: new Set() };
  const errors: string[] = [];
  const membership = new GroupMembership({
    brokerUrl: broker.url,
    token: testBrokerToken,
    requestTimeoutMs: 1_000,
    group: "members",
    topics: ["owned"],
    clientId: name,
    sessionTimeoutMs: 3_000,
    heartbeatIntervalMs: 100,
    joinRetry: { attemptsMax: 3, backoff: { backoffMsMin: 10, backoffMsMax: 50 } },
    listener: {
      onAssigned: async (keys) => {
        for (const key of keys) recorder.held.add(key);
        recorder.events.push(`${name} assigned ${[...keys].sort().join(",")}`);
      },
      onRevoked: async (keys, cause: RevokeCause) => {
        await Bun.sleep(overrides.revokeDelayMs ?? 0);
        for (const key of keys) recorder.held.delete(key);
        recorder.events.push(`${name} revoked(${cause}) ${[...keys].sort().join(",")}`);
      },
      onLost: async (keys) => {
        for (const key of keys) recorder.held.delete(key);
        recorder.events.push(`${name} lost ${[...keys].sort().join(",")}`);
      },
    },
    onError: (_error, where) => errors.push(where),
    clock: () => performance.now(),
    ...overrides,
  });
  cleanups.push(() => membership.leave());
  return { membership, recorder, errors };
}

async function waitFor(condition: () => boolean, what: () => string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await Bun.sleep(10);
  }
}

async function brokerWithTopic(partitions: number): Promise<TestBroker> {
  const broker = await startTestBroker({ BROKER_GROUP_EVICTION_CHECK_MS: "100" });
  cleanups.push(() => broker.cleanup());
  await new Admin({ brokerUrl: broker.url, token: testBrokerToken }).createTopic("owned", partitions);
  return broker;
}

describe("GroupMembership", () => {
  test("a partition reaches its next owner only after the previous owner's onRevoked finished", async () => {
    const broker = await brokerWithTopic(4);
    const first = member(broker, "first", { revokeDelayMs: 300 });
    const second = member(broker, "second");
    await first.membership.start();
    expect(first.membership.assigned()).toEqual(["owned/0", "owned/1", "owned/2", "owned/3"]);
    const overlaps: string[] = [];
    const watch = setInterval(() => {
      for (const key of first.recorder.held) if (second.recorder.held.has(key)) overlaps.push(key);
    }, 2);
    cleanups.push(() => clearInterval(watch));
    await second.membership.start();
    await waitFor(
      () => second.membership.assigned().length === 2,
      () => `second holds ${second.membership.assigned()}`,
    );
    expect(overlaps).toEqual([]);
    expect(first.membership.assigned().length).toBe(2);
    // The first member's revocation (slow on purpose) is what let the second one have them.
    const revokedAt = first.recorder.events.findIndex((event) => event.startsWith("first revoked(rebalance)"));
    expect(revokedAt).toBeGreaterThan(0);
    await second.membership.leave();
    expect(second.recorder.events.at(-1)).toStartWith("second revoked(leave)");
    await waitFor(
      () => first.membership.assigned().length === 4,
      () => `first holds ${first.membership.assigned()} after the second left`,
    );
    expect(overlaps).toEqual([]);
  }, 20_000);

  test("a revocation that takes longer than the session keeps the member alive: heartbeats go on meanwhile", async () => {
    const broker = await brokerWithTopic(2);
    const slow = member(broker, "slow", { sessionTimeoutMs: 1_000, heartbeatIntervalMs: 200, revokeDelayMs: 2_500 });
    await slow.membership.start();
    const memberId = slow.membership.memberId;
    const other = member(broker, "other", { sessionTimeoutMs: 1_000, heartbeatIntervalMs: 200 });
    await other.membership.start();
    await waitFor(
      () => other.membership.assigned().length === 1,
      () => `other holds ${other.membership.assigned()}`,
    );
    // The slow member finished its revocation long after a session had passed, and was never evicted.
    expect(slow.membership.memberId).toBe(memberId);
    expect(slow.recorder.events.some((event) => event.startsWith("slow lost"))).toBe(false);
    expect(slow.recorder.events.some((event) => event.startsWith("slow revoked(rebalance)"))).toBe(true);
    expect(slow.errors).not.toContain("heartbeat");
    const overlap = [...slow.recorder.held].filter((key) => other.recorder.held.has(key));
    expect(overlap).toEqual([]);
  }, 20_000);

  test("liveness counts from when the last successful heartbeat was sent, not when its answer came", async () => {
    const broker = await brokerWithTopic(1);
    // Each read of the clock is a second later: a member reading it after the answer would think itself younger.
    let reads = 0;
    const { membership } = member(broker, "timed", {
      heartbeatIntervalMs: 60_000,
      clock: () => 1_000 * reads++,
    });
    expect(membership.live(0)).toBe(false);
    await membership.start();
    expect(reads).toBe(1);
    expect(membership.live(2_999)).toBe(true);
    expect(membership.live(3_000)).toBe(false);
  });

  test("a member evicted by the broker loses its partitions without revoking them and joins anew", async () => {
    const broker = await brokerWithTopic(2);
    const { membership, recorder, errors } = member(broker, "kicked");
    await membership.start();
    const firstId = membership.memberId!;
    // An operator (or the coordinator after a session timeout) takes the member out.
    await new GroupClient(new BrokerHttp({ brokerUrl: broker.url, token: testBrokerToken }), "members").leave(firstId);
    await waitFor(
      () => membership.memberId !== undefined && membership.memberId !== firstId && membership.assigned().length === 2,
      () => `member ${membership.memberId} holding ${membership.assigned()}`,
    );
    expect(recorder.events).toEqual([
      "kicked assigned owned/0,owned/1",
      "kicked lost owned/0,owned/1",
      "kicked assigned owned/0,owned/1",
    ]);
    expect(errors).toContain("heartbeat");
  });

  test("a member that cannot reach the broker for a session stops everything (lost), then leaves quietly", async () => {
    const broker = await brokerWithTopic(2);
    let nowMs = 0;
    const { membership, recorder, errors } = member(broker, "cut-off", { clock: () => nowMs });
    await membership.start();
    await broker.stop();
    nowMs += 3_000;
    await waitFor(
      () => recorder.events.includes("cut-off lost owned/0,owned/1"),
      () => `events ${recorder.events}`,
    );
    expect(membership.assigned()).toEqual([]);
    expect(membership.live(nowMs)).toBe(false);
    await membership.leave();
    expect(errors).toContain("leave");
  });

  test("a listener failing to start a granted partition keeps the membership; the next answer retries it", async () => {
    const broker = await brokerWithTopic(2);
    const first = member(broker, "steady");
    await first.membership.start();
    let failures = 0;
    const second = member(broker, "flaky", {
      listener: {
        onAssigned: async (keys) => {
          if (keys.length > 0 && failures < 2) {
            failures += 1;
            throw new Error("cannot start yet");
          }
        },
        onRevoked: async () => undefined,
        onLost: async () => undefined,
      },
    });
    await second.membership.start();
    await waitFor(
      () => second.membership.assigned().length === 1,
      () => `flaky holds ${second.membership.assigned()} after ${failures} failures`,
    );
    expect(failures).toBe(2);
    expect(second.errors.filter((where) => where === "assignment").length).toBe(2);
    expect(second.errors).not.toContain("heartbeat");
    expect(second.membership.memberId).toBeDefined();
  }, 20_000);

  test("a second process with the same instance id takes the partitions at once; the first stops for good", async () => {
    const broker = await brokerWithTopic(2);
    const fencings: unknown[] = [];
    const first = member(broker, "first", { instanceId: "streamer-1", onFenced: (error) => fencings.push(error) });
    await first.membership.start();
    const generation = first.membership.generation;
    const second = member(broker, "second", { instanceId: "streamer-1" });
    await second.membership.start();
    expect(second.membership.assigned()).toEqual(["owned/0", "owned/1"]);
    expect(second.membership.generation).toBe(generation);
    await waitFor(
      () => fencings.length === 1,
      () => `first's events ${first.recorder.events}`,
    );
    expect(first.recorder.events).toEqual(["first assigned owned/0,owned/1", "first lost owned/0,owned/1"]);
    expect(first.membership.isFenced).toBe(true);
    expect(first.errors).toContain("fenced");
    // It does not come back to fence the second one.
    await Bun.sleep(400);
    expect(second.membership.assigned()).toEqual(["owned/0", "owned/1"]);
    expect(second.recorder.events).toEqual(["second assigned owned/0,owned/1"]);
  });

  test("the first join is retried within its limits, then the last error is thrown", async () => {
    const broker = await brokerWithTopic(1);
    await broker.stop();
    const { membership, errors } = member(broker, "early");
    await expect(membership.start()).rejects.toThrow("POST /v1/groups/members/join");
    expect(membership.joined).toBe(false);
    expect(errors).toEqual([]);
  });
});
