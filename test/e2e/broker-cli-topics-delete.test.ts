import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Consumer } from "../../src/broker-client/consumer.ts";
import type { TopicList } from "../../src/broker-protocol/api-schemas.ts";
import { type ServiceProcess, spawnService } from "../support/service-process.ts";
import { testBrokerToken, testBrokerTokenEnv } from "../support/test-tokens.ts";
import { runCli } from "./broker-cli-process.ts";

const brokerMain = new URL("../../brokers/main.ts", import.meta.url).pathname;
const dataDir = mkdtempSync(join(tmpdir(), "cli-topics-delete-"));
const running: ServiceProcess[] = [];

afterAll(async () => {
  for (const broker of running) await broker.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The broker process on `dataDir`; a deleted topic's files go 100 ms after the delete. */
async function startBroker(): Promise<ServiceProcess> {
  const broker = await spawnService({
    name: "broker",
    entry: brokerMain,
    env: {
      BROKER_PORT: "0",
      BROKER_DATA_DIR: dataDir,
      BROKER_FILE_DELETE_DELAY_MS: "100",
      BROKER_DISK_FREE_BYTES_MIN: "0",
      ...testBrokerTokenEnv,
    },
  });
  running.push(broker);
  return broker;
}

/** What the broker's log directory holds of `topic`: metadata, partition directories, set-aside ones. */
function filesOf(topic: string): string[] {
  return readdirSync(join(dataDir, "log")).filter(
    (name) => name.startsWith(`${topic}-`) || name.startsWith(`${topic}.`),
  );
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

describe("bun run broker -- topics delete", () => {
  test("refuses a topic in use or protected; deletes its files and offsets; a restart does not bring it back", async () => {
    const broker = await startBroker();
    const cli = (...args: string[]) => runCli(broker.url, args);
    expect((await cli("topics", "create", "old", "--partitions", "3")).code).toBe(0);
    expect((await cli("topics", "create", "telemetry.dlq", "--partitions", "1")).code).toBe(0);
    expect((await runCli(broker.url, ["produce", "old"], { stdin: "a\tone\nb\ttwo\nc\tthree\n" })).code).toBe(0);
    let handled = 0;
    const consumer = new Consumer({
      brokerUrl: broker.url,
      token: testBrokerToken,
      group: "readers",
      topics: ["old"],
      fetchWaitMs: 50,
      autoCommitIntervalMs: 50,
      eachBatch: (batch) => {
        handled += batch.recordCount;
      },
    });
    await consumer.start();
    await until(() => handled === 3, "the reader");

    const inUse = await cli("topics", "delete", "old", "--force");
    expect(inUse.code).toBe(1);
    expect(inUse.stderr).toContain('409 topic "old" is consumed by group readers: stop the group\'s members first');
    await consumer.close();

    const guarded = await cli("topics", "delete", "telemetry.dlq");
    expect(guarded.code).toBe(1);
    expect(guarded.stderr).toContain("is protected (BROKER_PROTECTED_TOPICS)");
    expect((await cli("topics", "delete", "telemetry.dlq", "--force")).code).toBe(0);

    expect(filesOf("old").sort()).toEqual(["old-0", "old-1", "old-2", "old.topic.json"]);
    const deleted = await cli("topics", "delete", "old");
    expect([deleted.code, deleted.stdout]).toEqual([
      0,
      "deleted topic old (3 partitions); removed the committed offsets of group readers\n",
    ]);
    await until(() => filesOf("old").length === 0 && filesOf("telemetry.dlq").length === 0, "the files to go");
    const listed = JSON.parse((await cli("topics", "list", "--output", "json")).stdout) as TopicList;
    expect(listed.topics).toEqual([]);
    expect((await cli("groups", "describe", "readers")).stderr).toContain("404");
    expect((await cli("topics", "delete", "old")).stderr).toContain('404 unknown topic "old"');

    expect(await broker.stop()).toBe(0);
    const restarted = await startBroker();
    const missing = await runCli(restarted.url, ["topics", "describe", "old"]);
    expect([missing.code, missing.stderr]).toEqual([1, expect.stringContaining('404 unknown topic "old"')]);
    expect((await runCli(restarted.url, ["topics", "list"])).stdout).toBe("TOPIC  PARTITIONS\n");
    expect(filesOf("old")).toEqual([]);
  });
});
