import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type {
  GroupDescription,
  GroupLag,
  MemberAssignment,
  ResetOffsetsResult,
} from "../../../src/broker-protocol/group-protocol.ts";
import { encodeProduceFrames } from "../../../src/broker-protocol/produce-frames.ts";
import { encodeBatch } from "../../../src/broker-protocol/record-batch.ts";
import { brokerFetch } from "../../support/test-tokens.ts";
import { startTestBroker, type TestBroker } from "./test-broker.ts";

let broker: TestBroker;
beforeAll(async () => {
  broker = await startTestBroker();
  await post("/v1/topics", { name: "events", partitions: 2 });
  const records = Array.from({ length: 5 }, (_, index) => ({ key: "k", value: `v${index}`, timestampMs: 1 }));
  const batch = encodeBatch({ records, producerId: -1, baseSequence: -1, nowMs: 0 });
  await brokerFetch(`${broker.url}/v1/topics/events/produce`, {
    method: "POST",
    body: encodeProduceFrames([{ partition: 0, batch }]),
  });
});
afterAll(async () => await broker.cleanup());

async function post(path: string, body: unknown): Promise<Response> {
  return await brokerFetch(broker.url + path, {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "content-type": "application/json" },
  });
}

describe("consumer-group routes", () => {
  test("join, rebalance, fencing, commit, offsets, describe with lag, leave", async () => {
    const joinA = await post("/v1/groups/g1/join", { clientId: "a", topics: ["events"], sessionTimeoutMs: 5_000 });
    expect(joinA.status).toBe(200);
    const a = (await joinA.json()) as MemberAssignment;
    expect(a.assignment).toEqual([{ topic: "events", partitions: [0, 1] }]);

    const b = (await (
      await post("/v1/groups/g1/join", { clientId: "b", topics: ["events"] })
    ).json()) as MemberAssignment;
    expect(b.generation).toBeGreaterThan(a.generation);

    // A commit with the generation from before b joined is refused: 409 stale_generation.
    const stale = await post("/v1/groups/g1/commit", {
      memberId: a.memberId,
      generation: a.generation,
      offsets: [{ topic: "events", partition: 0, offset: 3 }],
    });
    expect(stale.status).toBe(409);
    expect(await stale.json()).toMatchObject({ error: "stale_generation", retryable: false });

    // a learns the new generation (keeping both partitions until it lets one go), then commits.
    const aNow = (await (
      await post("/v1/groups/g1/heartbeat", { memberId: a.memberId, generation: b.generation, owned: a.assignment })
    ).json()) as MemberAssignment;
    const ownsZero = aNow.assignment.some((entry) => entry.partitions.includes(0));
    const partition = ownsZero ? 0 : 1;
    const commit = await post("/v1/groups/g1/commit", {
      memberId: a.memberId,
      generation: aNow.generation,
      offsets: [{ topic: "events", partition, offset: partition === 0 ? 3 : 0 }],
    });
    expect(commit.status).toBe(200);

    const offsets = await (await brokerFetch(`${broker.url}/v1/groups/g1/offsets?topic=events`)).json();
    expect(offsets).toMatchObject({ group: "g1", topic: "events", resetPolicy: "earliest" });

    const described = (await (await brokerFetch(`${broker.url}/v1/groups/g1`)).json()) as GroupDescription & {
      lag: GroupLag;
    };
    expect(described.members.length).toBe(2);
    const lagZero = described.lag.partitions.find((entry) => entry.partition === 0);
    expect(lagZero?.highWatermark).toBe(5);
    expect(lagZero?.lag).toBe(partition === 0 ? 2 : 5);

    const list = await (await brokerFetch(`${broker.url}/v1/groups`)).json();
    expect(list).toMatchObject({ groups: [{ group: "g1", memberCount: 2 }] });
    const metrics = await (await fetch(`${broker.url}/metrics`)).text();
    expect(metrics).toContain('broker_group_lag_records{group="g1",topic="events",partition="0"');

    expect((await post("/v1/groups/g1/leave", { memberId: b.memberId })).status).toBe(200);
    const gone = await post("/v1/groups/g1/heartbeat", { memberId: b.memberId, generation: b.generation });
    expect(gone.status).toBe(410);
    expect(await gone.json()).toMatchObject({ error: "unknown_member" });
  });

  test("an offset reset moves unowned partitions only; out of the log is a 400", async () => {
    const joined = (await (
      await post("/v1/groups/g4/join", { clientId: "a", topics: ["events"] })
    ).json()) as MemberAssignment;
    const reset = { topic: "events", offsets: [{ partition: 0, offset: 2 }] };
    const owned = await post("/v1/groups/g4/offsets", reset);
    expect(owned.status).toBe(409);
    expect(await owned.json()).toMatchObject({ error: "partition_owned", retryable: false });
    await post("/v1/groups/g4/commit", {
      memberId: joined.memberId,
      generation: joined.generation,
      offsets: [{ topic: "events", partition: 0, offset: 5 }],
    });
    await post("/v1/groups/g4/leave", { memberId: joined.memberId });
    const done = await post("/v1/groups/g4/offsets", reset);
    expect(done.status).toBe(200);
    expect(await done.json()).toEqual({
      group: "g4",
      topic: "events",
      dryRun: false,
      partitions: [{ partition: 0, before: 5, after: 2, logStartOffset: 0, highWatermark: 5 }],
    });
    const beyond = await post("/v1/groups/g4/offsets", { topic: "events", offsets: [{ partition: 0, offset: 6 }] });
    expect(beyond.status).toBe(400);
  });

  test("a reset goes to a time (the time index), an end of the log or an offset; a dry run moves nothing", async () => {
    await post("/v1/topics", { name: "timed", partitions: 2 });
    // Partition 0: offsets 0..9 at times 1000, 1100, ... 1900 (one batch each); partition 1 stays empty.
    for (let index = 0; index < 10; index += 1) {
      const batch = encodeBatch({
        records: [{ key: "k", value: `v${index}`, timestampMs: 1_000 + index * 100 }],
        producerId: -1,
        baseSequence: -1,
        nowMs: 0,
      });
      await brokerFetch(`${broker.url}/v1/topics/timed/produce`, {
        method: "POST",
        body: encodeProduceFrames([{ partition: 0, batch }]),
      });
    }
    const targets = [
      { partition: 0, timestampMs: 1_450 },
      { partition: 1, position: "latest" },
    ];
    const plan = (await (
      await post("/v1/groups/g5/offsets", { topic: "timed", offsets: targets, dryRun: true })
    ).json()) as ResetOffsetsResult;
    expect(plan.dryRun).toBe(true);
    expect(plan.partitions.map((entry) => [entry.partition, entry.before, entry.after])).toEqual([
      [0, null, 5],
      [1, null, 0],
    ]);
    expect((await brokerFetch(`${broker.url}/v1/groups/g5`)).status).toBe(404);

    const cases: [unknown, number][] = [
      [{ partition: 0, timestampMs: 0 }, 0],
      [{ partition: 0, timestampMs: 1_900 }, 9],
      [{ partition: 0, timestampMs: 5_000 }, 10],
      [{ partition: 0, position: "earliest" }, 0],
      [{ partition: 0, position: "latest" }, 10],
      [{ partition: 0, offset: 7 }, 7],
    ];
    for (const [target, expected] of cases) {
      const moved = (await (
        await post("/v1/groups/g5/offsets", { topic: "timed", offsets: [target] })
      ).json()) as ResetOffsetsResult;
      expect([target, moved.partitions[0]?.after]).toEqual([target, expected]);
    }
    const offsets = await (await brokerFetch(`${broker.url}/v1/groups/g5/offsets?topic=timed`)).json();
    expect(offsets).toMatchObject({ offsets: [{ partition: 0, offset: 7 }] });

    const refusals: [unknown, number, RegExp][] = [
      [{ topic: "timed", offsets: [{ partition: 0, offset: 1, timestampMs: 5 }] }, 400, /exactly one of offset/],
      [{ topic: "timed", offsets: [{ partition: 1 }] }, 400, /partition 1: give exactly one .* \(got 0\)/],
      [{ topic: "timed", offsets: [{ partition: 0, position: "middle" }] }, 400, /position/],
      [{ topic: "timed", offsets: [{ partition: 2, position: "latest" }] }, 400, /no partition 2/],
      [{ topic: "timed", offsets: [{ partition: 0, offset: 11 }] }, 400, /outside the log 0\.\.10/],
      [{ topic: "nope", offsets: [{ partition: 0, offset: 0 }] }, 404, /unknown topic "nope"/],
    ];
    for (const [body, status, message] of refusals) {
      const refused = await post("/v1/groups/g5/offsets", body);
      const answer = (await refused.json()) as { message: string };
      expect([body, refused.status]).toEqual([body, status]);
      expect(answer.message).toMatch(message);
    }
  });

  test("bad requests and unknown groups get 400 and 404", async () => {
    expect((await post("/v1/groups/g2/join", { clientId: "a", topics: [] })).status).toBe(400);
    expect((await post("/v1/groups/bad name/join", { clientId: "a", topics: ["events"] })).status).toBe(400);
    expect((await brokerFetch(`${broker.url}/v1/groups/missing`)).status).toBe(404);
  });

  test("joining a topic that does not exist auto-creates it with the default partition count", async () => {
    const joined = (await (
      await post("/v1/groups/g3/join", { clientId: "a", topics: ["fresh"] })
    ).json()) as MemberAssignment;
    expect(joined.assignment[0]?.partitions.length).toBe(12);
  });
});
