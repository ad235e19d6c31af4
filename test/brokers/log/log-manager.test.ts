import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
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

async function openManager(dataDir: string, clock: ManualClock): Promise<LogManager> {
  const manager = await LogManager.open({
    dataDir,
    config: smallConfig({ partitionsPerTopicMax: 16, topicsMax: 3 }),
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

  test("a partition directory without topic metadata (crash during create) is not a topic", async () => {
    const dir = tempDir("log-manager");
    cleanups.push(dir.remove);
    const clock = new ManualClock();
    const manager = await openManager(dir.path, clock);
    await manager.createTopic("kept", 1);
    await manager.close();
    Bun.spawnSync(["mkdir", join(dir.path, "half-0")]);
    const reopened = await openManager(dir.path, clock);
    expect(reopened.listTopics().map((topic) => topic.name)).toEqual(["kept"]);
    await reopened.close();
    expect(() => reopened.partition("kept", 0)).toThrow(LogClosedError);
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
