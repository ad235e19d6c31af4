import { afterEach, describe, expect, test } from "bun:test";
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CheckpointFlusher } from "../../../brokers/groups/checkpoint-flusher.ts";
import { CheckpointStore } from "../../../brokers/groups/checkpoint-store.ts";
import { ConsumerGroup } from "../../../brokers/groups/consumer-group.ts";
import { checkpointOf, type GroupCheckpoint } from "../../../brokers/groups/group-checkpoint.ts";

const directories: string[] = [];
afterEach(async () => {
  for (const directory of directories.splice(0)) await rm(directory, { recursive: true, force: true });
});

async function setUp() {
  const root = await mkdtemp(join(tmpdir(), "groups-flusher-"));
  directories.push(root);
  const directory = join(root, "groups");
  const { store } = await CheckpointStore.open({ directory, checkpointBytesMax: 64 * 1024 });
  const groups = new Map<string, ConsumerGroup>();
  const errors: unknown[] = [];
  const flusher = new CheckpointFlusher(store, {
    snapshot: (name) => {
      const group = groups.get(name);
      return group === undefined ? undefined : { checkpoint: checkpointOf(group), changeNumber: group.changeNumber };
    },
    onError: (error) => errors.push(error),
    retryMsMin: 20,
    retryMsMax: 100,
  });
  return { directory, store, groups, flusher, errors };
}

function groupWithOffset(name: string, offset: number): ConsumerGroup {
  const group = new ConsumerGroup(name);
  group.setOffset("telemetry", 0, offset);
  return group;
}

async function readCheckpoint(directory: string, name: string): Promise<GroupCheckpoint> {
  return JSON.parse(await readFile(join(directory, `${name}.group.json`), "utf8")) as GroupCheckpoint;
}

describe("CheckpointFlusher", () => {
  test("changes made while a round writes go into one next round", async () => {
    const { directory, groups, flusher } = await setUp();
    groups.set("a", groupWithOffset("a", 1));
    flusher.markDirty("a");
    const first = flusher.whenDurable("a");
    // Changes made after the first round started: they all share the second round.
    await Promise.resolve();
    await Promise.resolve();
    const waits: Promise<void>[] = [];
    for (let index = 0; index < 50; index += 1) {
      const name = `g${index}`;
      groups.set(name, groupWithOffset(name, index));
      flusher.markDirty(name);
      waits.push(flusher.whenDurable(name));
    }
    await first;
    await Promise.all(waits);
    expect(flusher.roundCount).toBe(2);
    expect((await readCheckpoint(directory, "g49")).offsets).toEqual([
      { topic: "telemetry", partition: 0, offset: 49 },
    ]);
    expect((await readdir(directory)).filter((name) => name.endsWith(".tmp"))).toEqual([]);
  });

  test("a clean group resolves at once; the latest state is what lands on disk", async () => {
    const { directory, groups, flusher } = await setUp();
    await flusher.whenDurable("never-changed");
    const group = groupWithOffset("a", 1);
    groups.set("a", group);
    flusher.markDirty("a");
    group.setOffset("telemetry", 0, 2);
    await flusher.whenDurable("a");
    expect((await readCheckpoint(directory, "a")).offsets[0]?.offset).toBe(2);
  });

  test("a failed round is retried on its own with backoff until it lands; durableChange follows the disk", async () => {
    const { directory, groups, flusher, errors } = await setUp();
    const group = groupWithOffset("a", 1);
    group.beginChange();
    groups.set("a", group);
    await rm(directory, { recursive: true });
    flusher.markDirty("a");
    await expect(flusher.whenDurable("a")).rejects.toThrow(/ENOENT|no such file/);
    expect(flusher.durableChange("a")).toBe(0);
    expect(flusher.failing).toBe(true);
    await Bun.sleep(150);
    expect(errors.length).toBeGreaterThanOrEqual(2);
    // Space (here: the directory) comes back; nobody asks, the retry writes it.
    await mkdir(directory);
    const deadline = performance.now() + 2_000;
    while (flusher.durableChange("a") === 0 && performance.now() < deadline) await Bun.sleep(10);
    expect(flusher.durableChange("a")).toBe(1);
    expect(flusher.failing).toBe(false);
    expect((await readCheckpoint(directory, "a")).offsets[0]?.offset).toBe(1);
    await flusher.drain();
  });

  test("a failed write rejects its waiters, stays dirty and succeeds on the next request", async () => {
    const { directory, groups, flusher, errors } = await setUp();
    groups.set("a", groupWithOffset("a", 1));
    await rm(directory, { recursive: true });
    flusher.markDirty("a");
    await expect(flusher.whenDurable("a")).rejects.toThrow(/ENOENT|no such file/);
    expect(errors).toHaveLength(1);
    await expect(flusher.drain()).rejects.toThrow(/a in .* are not durable/);
    await mkdir(directory);
    await flusher.whenDurable("a");
    expect((await readCheckpoint(directory, "a")).offsets[0]?.offset).toBe(1);
    await flusher.drain();
  });

  test("a deleted group's file is removed", async () => {
    const { directory, groups, flusher } = await setUp();
    groups.set("a", groupWithOffset("a", 1));
    flusher.markDirty("a");
    await flusher.whenDurable("a");
    groups.delete("a");
    flusher.markDirty("a");
    await flusher.whenDurable("a");
    expect(await readdir(directory)).toEqual([]);
  });
});

describe("CheckpointStore", () => {
  test("refuses a checkpoint above checkpointBytesMax, naming the file", async () => {
    const root = await mkdtemp(join(tmpdir(), "groups-store-"));
    directories.push(root);
    const { store } = await CheckpointStore.open({ directory: root, checkpointBytesMax: 200 });
    const group = new ConsumerGroup("big");
    for (let partition = 0; partition < 50; partition += 1) group.setOffset("telemetry", partition, partition);
    await expect(store.writeAll([checkpointOf(group)])).rejects.toThrow(
      /big\.group\.json: \d+ bytes exceed checkpointBytesMax 200/,
    );
    expect(await readdir(root)).toEqual([]);
  });

  test("a checkpoint whose content names another group is refused at load", async () => {
    const root = await mkdtemp(join(tmpdir(), "groups-store-"));
    directories.push(root);
    const { store } = await CheckpointStore.open({ directory: root, checkpointBytesMax: 64 * 1024 });
    await store.writeAll([checkpointOf(groupWithOffset("a", 1))]);
    await Bun.write(join(root, "b.group.json"), Bun.file(join(root, "a.group.json")));
    await expect(CheckpointStore.open({ directory: root, checkpointBytesMax: 64 * 1024 })).rejects.toThrow(
      /b\.group\.json holds group a/,
    );
  });
});
