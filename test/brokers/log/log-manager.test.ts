import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  InvalidTopicError,
  LogClosedError,
  TopicExistsError,
  UnknownPartitionError,
  UnknownTopicError,
} from "../../../brokers/log/errors.ts";
import { LogManager } from "../../../brokers/log/log-manager.ts";
import { decodeRecords } from "../../../src/broker-protocol/record-batch.ts";
import { ManualClock, makeBatch, smallConfig, tempDir } from "./log-test-support.ts";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function openManager(dataDir: string, clock: ManualClock, fileDeleteDelayMs = 60_000): Promise<LogManager> {
  const manager = await LogManager.open({
    dataDir,
    config: smallConfig({ partitionsPerTopicMax: 16, topicsMax: 3, fileDeleteDelayMs }),
    clock,
  });
  cleanups.push(() => manager.close());
  return manager;
}

describe("LogManager", () => {
  test("creates topics with partition directories and metadata, and finds them again after a reopen", async () => {
    const dir = tempDir("log-manager");
    cleanups.push(dir.remove);
    const clock = new ManualClock();
    const manager = await openManager(dir.path, clock);
    await manager.createTopic("telemetry", 3, { retentionMs: 60_000 });
    await manager.createTopic("dead.letter_1", 1);
    expect(readdirSync(dir.path).sort()).toEqual([
      "dead.letter_1-0",
      "dead.letter_1.topic.json",
      "telemetry-0",
      "telemetry-1",
      "telemetry-2",
      "telemetry.topic.json",
    ]);
    await manager.partition("telemetry", 2).append(makeBatch({ records: 4, timestampMs: clock.nowMs() }));
    await manager.close();

    const reopened = await openManager(dir.path, clock);
    expect(reopened.listTopics().map((topic) => [topic.name, topic.partitions, topic.overrides])).toEqual([
      ["dead.letter_1", 1, {}],
      ["telemetry", 3, { retentionMs: 60_000 }],
    ]);
    const log = reopened.partition("telemetry", 2);
    expect(log.highWatermark).toBe(4);
    expect(decodeRecords(log.read(0, 1 << 20).bytes)).toHaveLength(4);
  });

  test("validates names, partition counts and limits with typed errors", async () => {
    const dir = tempDir("log-manager");
    cleanups.push(dir.remove);
    const manager = await openManager(dir.path, new ManualClock());
    for (const name of ["", "a/b", "..", "x".repeat(201), "spaces here"]) {
      await expect(manager.createTopic(name, 1)).rejects.toThrow(InvalidTopicError);
    }
    await expect(manager.createTopic("t", 0)).rejects.toThrow(InvalidTopicError);
    await expect(manager.createTopic("t", 17)).rejects.toThrow(InvalidTopicError);
    await expect(manager.createTopic("t", 1, { retentionMs: -7 })).rejects.toThrow(InvalidTopicError);
    await manager.createTopic("t", 2);
    await expect(manager.createTopic("t", 2)).rejects.toThrow(TopicExistsError);
    expect(() => manager.partition("nope", 0)).toThrow(UnknownTopicError);
    expect(() => manager.partition("t", 2)).toThrow(UnknownPartitionError);
    await manager.createTopic("u", 1);
    await manager.createTopic("v", 1);
    await expect(manager.createTopic("w", 1)).rejects.toThrow(/topicsMax 3/);
    expect(existsSync(join(dir.path, "w-0"))).toBe(false);
  });

  test("topic overrides apply per topic: retention deletes only where configured", async () => {
    const dir = tempDir("log-manager");
    cleanups.push(dir.remove);
    const clock = new ManualClock();
    const manager = await openManager(dir.path, clock);
    await manager.createTopic("short", 1, { retentionMs: 1000, segmentBytesMax: 4096 });
    await manager.createTopic("long", 1, { segmentBytesMax: 4096 });
    for (let index = 0; index < 40; index++) {
      await manager.partition("short", 0).append(makeBatch({ records: 5, timestampMs: clock.nowMs() }));
      await manager.partition("long", 0).append(makeBatch({ records: 5, timestampMs: clock.nowMs() }));
    }
    clock.advance(10_000);
    const deleted = manager.applyRetention(clock.nowMs());
    expect(deleted).toBeGreaterThan(0);
    expect(manager.partition("short", 0).logStartOffset).toBeGreaterThan(0);
    expect(manager.partition("long", 0).logStartOffset).toBe(0);
    expect(manager.totalSizeBytes()).toBe(
      manager.partition("short", 0).sizeBytes + manager.partition("long", 0).sizeBytes,
    );
  });

  test("a partition directory without topic metadata (a create or delete cut short) is removed at open", async () => {
    const dir = tempDir("log-manager");
    cleanups.push(dir.remove);
    const clock = new ManualClock();
    const manager = await openManager(dir.path, clock);
    await manager.createTopic("kept", 1);
    await manager.close();
    for (const debris of ["half-0", "half-1", "gone-0.0123abcd.deleted"]) mkdirSync(join(dir.path, debris));
    writeFileSync(join(dir.path, "half-0", "00000000000000000000.log"), "old bytes");
    mkdirSync(join(dir.path, "not-a-partition"));
    const reopened = await openManager(dir.path, clock);
    expect(reopened.listTopics().map((topic) => topic.name)).toEqual(["kept"]);
    expect(readdirSync(dir.path).sort()).toEqual(["kept-0", "kept.topic.json", "not-a-partition"]);
    // A topic created again under the old name starts empty.
    await reopened.createTopic("half", 2);
    expect(reopened.partition("half", 0).highWatermark).toBe(0);
    await reopened.close();
    expect(() => reopened.partition("kept", 0)).toThrow(LogClosedError);
  });

  test("deleteTopic: metadata first, then the partitions move aside and go after fileDeleteDelayMs", async () => {
    const dir = tempDir("log-manager");
    cleanups.push(dir.remove);
    const clock = new ManualClock();
    const manager = await openManager(dir.path, clock, 50);
    await manager.createTopic("doomed", 2);
    await manager.createTopic("kept", 1);
    const doomed = manager.partition("doomed", 1);
    await doomed.append(makeBatch({ records: 3, timestampMs: clock.nowMs() }));
    const waiting = doomed.waitForAppend(3, 10_000);

    expect((await manager.deleteTopic("doomed")).partitions).toBe(2);
    expect(await waiting).toBe(false);
    expect(manager.topic("doomed")).toBeUndefined();
    expect(() => manager.partition("doomed", 0)).toThrow(UnknownTopicError);
    expect(() => doomed.read(0, 1024)).toThrow(LogClosedError);
    await expect(manager.deleteTopic("doomed")).rejects.toThrow(UnknownTopicError);
    const names = readdirSync(dir.path).sort();
    expect(names.filter((name) => name.startsWith("doomed"))).toEqual([
      expect.stringMatching(/^doomed-0\.[0-9a-f]{32}\.deleted$/),
      expect.stringMatching(/^doomed-1\.[0-9a-f]{32}\.deleted$/),
    ]);
    await Bun.sleep(200);
    expect(readdirSync(dir.path).sort()).toEqual(["kept-0", "kept.topic.json"]);

    // Created again, the name is a new, empty topic; a reopen finds only what exists.
    await manager.createTopic("doomed", 1);
    expect(manager.partition("doomed", 0).highWatermark).toBe(0);
    await manager.close();
    const reopened = await openManager(dir.path, clock);
    expect(reopened.listTopics().map((topic) => [topic.name, topic.partitions])).toEqual([
      ["doomed", 1],
      ["kept", 1],
    ]);
  });

  test("a delete cut short after the metadata went leaves nothing a reopen brings back", async () => {
    const dir = tempDir("log-manager");
    cleanups.push(dir.remove);
    const clock = new ManualClock();
    const manager = await openManager(dir.path, clock);
    await manager.createTopic("doomed", 2);
    await manager.partition("doomed", 0).append(makeBatch({ records: 3, timestampMs: clock.nowMs() }));
    await manager.close();
    // The state a crash right after deleteTopic's first step leaves: no metadata, the directories still there.
    rmSync(join(dir.path, "doomed.topic.json"));
    const reopened = await openManager(dir.path, clock);
    expect(reopened.listTopics()).toEqual([]);
    expect(readdirSync(dir.path)).toEqual([]);
  });

  for (const [flush, expectAdvance] of [
    ["always", true],
    ["interval", true],
    ["os", false],
  ] as const) {
    test(`flush=${flush}: the background checkpoint ${expectAdvance ? "moves" : "does not move"} the recovery point without a close`, async () => {
      const dir = tempDir("log-manager");
      cleanups.push(dir.remove);
      const clock = new ManualClock();
      const manager = await LogManager.open({
        dataDir: dir.path,
        config: smallConfig({ flush, flushIntervalMs: 10, checkpointIntervalMs: 10 }),
        clock,
      });
      cleanups.push(() => manager.close());
      await manager.createTopic("t", 1);
      await manager.partition("t", 0).append(makeBatch({ records: 7, timestampMs: clock.nowMs() }));
      const recoveryPoint = () => Bun.file(join(dir.path, "t-0", "recovery-point")).text();
      for (let attempt = 0; attempt < 50 && (await recoveryPoint()) !== "7"; attempt++) await Bun.sleep(10);
      expect(await recoveryPoint()).toBe(expectAdvance ? "7" : "0");
      await manager.flushAll();
      expect(await recoveryPoint()).toBe("7");
    });
  }
});
