import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { DeleteTopicResponse, ErrorBody } from "../../../src/broker-protocol/api-schemas.ts";
import type { MemberAssignment } from "../../../src/broker-protocol/group-protocol.ts";
import { encodeProduceFrames } from "../../../src/broker-protocol/produce-frames.ts";
import { encodeBatch } from "../../../src/broker-protocol/record-batch.ts";
import { brokerFetch } from "../../support/test-tokens.ts";
import { startTestBroker, type TestBroker } from "./test-broker.ts";

const brokers: TestBroker[] = [];
afterAll(async () => {
  // Newest first: a restarted broker shares its data directory with the one it replaced.
  for (const broker of brokers.reverse()) await broker.cleanup();
});

/** A broker whose deleted files go 100 ms after the delete (BROKER_FILE_DELETE_DELAY_MS). */
async function broker(dataDir?: string): Promise<TestBroker> {
  const started = await startTestBroker({ BROKER_FILE_DELETE_DELAY_MS: "100" }, dataDir);
  brokers.push(started);
  return started;
}

function call(at: TestBroker, method: string, path: string, body?: unknown): Promise<Response> {
  return brokerFetch(at.url + path, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
  });
}

async function produce(at: TestBroker, topic: string, partition: number, count: number): Promise<void> {
  const records = Array.from({ length: count }, (_, index) => ({ key: "k", value: `v${index}`, timestampMs: 1 }));
  const batch = encodeBatch({ records, producerId: -1, baseSequence: -1, nowMs: 0 });
  const sent = await brokerFetch(`${at.url}/v1/topics/${topic}/produce`, {
    method: "POST",
    body: encodeProduceFrames([{ partition, batch }]),
  });
  expect(sent.status).toBe(200);
}

/** What the log directory holds of `topic`: its metadata file and partition directories, live or set aside. */
function filesOf(at: TestBroker, topic: string): string[] {
  return readdirSync(join(at.dataDir, "log"))
    .filter((name) => name.startsWith(`${topic}-`) || name.startsWith(`${topic}.`))
    .sort();
}

describe("DELETE /v1/topics/{topic}", () => {
  test("deletes the partitions' files and the groups' offsets of it; a restart does not bring it back", async () => {
    const at = await broker();
    expect((await call(at, "POST", "/v1/topics", { name: "old", partitions: 3 })).status).toBe(201);
    await call(at, "POST", "/v1/topics", { name: "kept", partitions: 1 });
    await produce(at, "old", 1, 5);
    const reset = { topic: "old", offsets: [{ partition: 1, offset: 4 }] };
    expect((await call(at, "POST", "/v1/groups/readers/offsets", reset)).status).toBe(200);
    expect(filesOf(at, "old")).toEqual(["old-0", "old-1", "old-2", "old.topic.json"]);

    const deleted = await call(at, "DELETE", "/v1/topics/old");
    expect(deleted.status).toBe(200);
    expect((await deleted.json()) as DeleteTopicResponse).toEqual({
      name: "old",
      partitions: 3,
      groupsWithOffsetsRemoved: ["readers"],
    });
    expect((await call(at, "GET", "/v1/topics/old")).status).toBe(404);
    expect(((await (await call(at, "GET", "/v1/topics")).json()) as { topics: unknown[] }).topics).toEqual([
      { name: "kept", partitions: 1 },
    ]);
    // The group held offsets of nothing else: it is gone with them.
    expect((await call(at, "GET", "/v1/groups/readers")).status).toBe(404);
    expect(filesOf(at, "old").every((name) => name.endsWith(".deleted"))).toBe(true);
    await Bun.sleep(400);
    expect(filesOf(at, "old")).toEqual([]);
    expect((await call(at, "DELETE", "/v1/topics/old")).status).toBe(404);

    await at.stop();
    const again = await broker(at.dataDir);
    expect((await call(again, "GET", "/v1/topics/old")).status).toBe(404);
    expect((await call(again, "GET", "/v1/topics/kept")).status).toBe(200);
    // The name is free: created again, the topic starts empty.
    await call(again, "POST", "/v1/topics", { name: "old", partitions: 2 });
    const described = (await (await call(again, "GET", "/v1/topics/old")).json()) as {
      partitions: { highWatermark: number }[];
    };
    expect(described.partitions.map((partition) => partition.highWatermark)).toEqual([0, 0]);
  });

  test("refuses a topic a group member subscribes to (409 topic_in_use), until the member leaves", async () => {
    const at = await broker();
    await call(at, "POST", "/v1/topics", { name: "busy", partitions: 2 });
    const joined = (await (
      await call(at, "POST", "/v1/groups/workers/join", { clientId: "w", topics: ["busy"] })
    ).json()) as MemberAssignment;
    const refused = await call(at, "DELETE", "/v1/topics/busy");
    expect(refused.status).toBe(409);
    expect((await refused.json()) as ErrorBody).toMatchObject({
      error: "topic_in_use",
      message: expect.stringContaining("group workers"),
      retryable: false,
    });
    // force overrides a protection, not a live consumer.
    expect((await call(at, "DELETE", "/v1/topics/busy?force=true")).status).toBe(409);
    expect(existsSync(join(at.dataDir, "log", "busy.topic.json"))).toBe(true);
    await call(at, "POST", "/v1/groups/workers/leave", { memberId: joined.memberId });
    expect((await call(at, "DELETE", "/v1/topics/busy")).status).toBe(200);
  });

  test("a protected topic (the dead-letter topic by default) needs force=true", async () => {
    const at = await broker();
    await call(at, "POST", "/v1/topics", { name: "telemetry.dlq", partitions: 1 });
    await produce(at, "telemetry.dlq", 0, 2);
    const refused = await call(at, "DELETE", "/v1/topics/telemetry.dlq");
    expect(refused.status).toBe(409);
    expect((await refused.json()) as ErrorBody).toMatchObject({
      error: "topic_protected",
      message: expect.stringContaining("force=true"),
    });
    expect((await call(at, "DELETE", "/v1/topics/telemetry.dlq?force=maybe")).status).toBe(400);
    expect((await call(at, "DELETE", "/v1/topics/telemetry.dlq?force=false")).status).toBe(409);
    expect((await call(at, "DELETE", "/v1/topics/telemetry.dlq?force=true")).status).toBe(200);
    expect((await call(at, "GET", "/v1/topics/telemetry.dlq")).status).toBe(404);
  });
});
