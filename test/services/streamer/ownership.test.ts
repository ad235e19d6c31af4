import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { PartitionOwnership } from "../../../services/streamer/ownership.ts";
import { Admin } from "../../../src/broker-client/admin.ts";
import { type BrokerProcess, startBroker } from "../../support/broker-process.ts";
import { testBrokerToken } from "../../support/test-tokens.ts";
import { waitUntil } from "./streamer-process.ts";

const partitionCount = 6;
let broker: BrokerProcess;

beforeAll(async () => {
  broker = await startBroker();
  await new Admin({ brokerUrl: broker.url, token: testBrokerToken }).createTopic("owned", partitionCount);
});
afterAll(async () => {
  await broker?.stop();
});

interface Member {
  ownership: PartitionOwnership;
  /** Wall-clock ms at which each partition's revocation flush finished. */
  releasedAtMs: Map<number, number>;
  /** Wall-clock ms at which each partition was (last) granted. */
  grantedAtMs: Map<number, number>;
  flagsClearedBeforeFlush: boolean[];
}

function member(name: string): Member {
  const releasedAtMs = new Map<number, number>();
  const grantedAtMs = new Map<number, number>();
  const flagsClearedBeforeFlush: boolean[] = [];
  let previous = new Set<number>();
  const ownership: PartitionOwnership = new PartitionOwnership({
    brokerUrl: broker.url,
    token: testBrokerToken,
    group: "owners",
    topic: "owned",
    partitionCount,
    clientId: name,
    heartbeatMs: 300,
    rebalanceHeartbeatMs: 100,
    sessionTimeoutMs: 3_000,
    requestTimeoutMs: 1_000,
    onRevoked: async (partitions) => {
      flagsClearedBeforeFlush.push(partitions.every((partition) => ownership.flags[partition] === 0));
      await Bun.sleep(50); // a flush takes a moment; the next owner must wait for it
      for (const partition of partitions) releasedAtMs.set(partition, Date.now());
    },
    onChange: (owned) => {
      for (const partition of owned) if (!previous.has(partition)) grantedAtMs.set(partition, Date.now());
      previous = new Set(owned);
    },
    onError: () => undefined,
    clock: Date.now,
  });
  return { ownership, releasedAtMs, grantedAtMs, flagsClearedBeforeFlush };
}

describe("PartitionOwnership", () => {
  test("two members split the partitions without overlap; a revoked partition moves only after its flush", async () => {
    const first = member("first");
    const second = member("second");
    const signal = new AbortController().signal;
    await first.ownership.start(signal);
    expect(await first.ownership.waitStable(5_000)).toBe(true);
    expect(first.ownership.owned()).toEqual([0, 1, 2, 3, 4, 5]);

    const overlaps: number[] = [];
    const watch = setInterval(() => {
      for (let partition = 0; partition < partitionCount; partition += 1) {
        if (first.ownership.flags[partition] === 1 && second.ownership.flags[partition] === 1) overlaps.push(partition);
      }
    }, 5);
    try {
      await second.ownership.start(signal);
      await waitUntil(
        () =>
          first.ownership.owned().length + second.ownership.owned().length === partitionCount &&
          second.ownership.owned().length > 0,
        () => `first ${first.ownership.owned()}, second ${second.ownership.owned()}`,
        10_000,
      );
      const moved = second.ownership.owned();
      expect(moved.every((partition) => !first.ownership.owned().includes(partition))).toBe(true);
      for (const partition of moved) {
        expect(first.releasedAtMs.get(partition)).toBeLessThanOrEqual(second.grantedAtMs.get(partition)!);
      }
      expect(first.flagsClearedBeforeFlush.every(Boolean)).toBe(true);

      await second.ownership.leave();
      await waitUntil(
        () => first.ownership.owned().length === partitionCount,
        () => `first ${first.ownership.owned()} after the second left`,
        5_000,
      );
    } finally {
      clearInterval(watch);
      await first.ownership.leave();
    }
    expect(overlaps).toEqual([]);
    const description = await new Admin({ brokerUrl: broker.url, token: testBrokerToken })
      .describeGroup("owners")
      .catch(() => undefined);
    expect(description?.members.length ?? 0).toBe(0);
  }, 30_000);

  test("live() holds only within a session of the last successful heartbeat", async () => {
    const lone = member("lone");
    expect(lone.ownership.live(Date.now())).toBe(false);
    await lone.ownership.start(new AbortController().signal);
    expect(lone.ownership.live(Date.now())).toBe(true);
    expect(lone.ownership.live(Date.now() + 3_000)).toBe(false);
    await lone.ownership.leave();
    expect(lone.ownership.joined).toBe(false);
  }, 15_000);
});
