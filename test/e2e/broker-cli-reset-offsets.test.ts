import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Admin } from "../../src/broker-client/admin.ts";
import { Consumer } from "../../src/broker-client/consumer.ts";
import { PartitionClient } from "../../src/broker-client/partition-client.ts";
import type { ResetOffsetsResult } from "../../src/broker-protocol/group-protocol.ts";
import { startTestBroker, type TestBroker } from "../brokers/server/test-broker.ts";
import { testBrokerToken } from "../support/test-tokens.ts";
import { runCli } from "./broker-cli-process.ts";

/**
 * `groups reset-offsets` through the CLI process against a real broker: partition 0
 * holds offsets 0..9 stamped base+0s … base+9s, partition 1 offsets 0..3 stamped
 * base+0s … base+3s; group "readers" has read everything (committed 10 and 4).
 */
const baseMs = Date.UTC(2025, 6, 18, 20, 0, 0);
let broker: TestBroker;
let admin: Admin;

beforeAll(async () => {
  broker = await startTestBroker();
  admin = new Admin({ brokerUrl: broker.url, token: testBrokerToken });
  await admin.createTopic("events", 2);
  const client = new PartitionClient({ brokerUrl: broker.url, token: testBrokerToken });
  for (const [partition, count] of [
    [0, 10],
    [1, 4],
  ] as const) {
    for (let index = 0; index < count; index += 1) {
      const records = [{ key: "k", value: `p${partition}-${index}`, timestampMs: baseMs + index * 1_000 }];
      await client.append({ topic: "events", partition, records });
    }
  }
});
afterAll(async () => await broker.cleanup());

function cli(args: string[]) {
  return runCli(broker.url, ["groups", "reset-offsets", "readers", "--topic", "events", ...args]);
}

async function committed(): Promise<number[]> {
  const offsets = await admin.describeGroup("readers");
  return offsets.lag.partitions.map((partition) => partition.committed ?? -1);
}

/** A member of "readers" that counts what it handles; it commits as it goes. */
async function reader(): Promise<{ consumer: Consumer; handled: () => number }> {
  let handled = 0;
  const consumer = new Consumer({
    brokerUrl: broker.url,
    token: testBrokerToken,
    group: "readers",
    topics: ["events"],
    clientId: "reader-1",
    fetchWaitMs: 50,
    autoCommitIntervalMs: 50,
    eachBatch: (batch) => {
      handled += batch.recordCount;
    },
  });
  await consumer.start();
  return { consumer, handled: () => handled };
}

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

describe("bun run broker -- groups reset-offsets", () => {
  test("while a member owns the partitions it is refused, naming the member and what to do", async () => {
    const { consumer, handled } = await reader();
    await until(() => handled() === 14, "the reader to read everything");
    await until(async () => (await committed()).join() === "10,4", "the commits");
    for (const args of [["--to-earliest"], ["--to-earliest", "--dry-run"]]) {
      const refused = await cli(args);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("events/0, events/1 owned by a member");
      expect(refused.stderr).toContain("(409 partition_owned)");
      expect(refused.stderr).toContain("Live members: reader-1");
      expect(refused.stderr).toContain("stop the group's members");
    }
    await consumer.close();
    expect(await committed()).toEqual([10, 4]);
  });

  test("--to-datetime: the first record at or after the time, per partition; --dry-run moves nothing", async () => {
    const plan = await cli(["--to-datetime", "2025-07-18T20:00:05.500Z", "--dry-run"]);
    expect(plan.code).toBe(0);
    expect(plan.stdout.trim().split("\n")).toEqual([
      "group readers, topic events: would move (dry run: nothing moved) 2 partitions",
      "PARTITION  BEFORE  AFTER  CHANGE  LOG-START  HIGH-WATERMARK",
      "0          10      6      -4      0          10",
      "1          4       4      0       0          4",
    ]);
    expect(await committed()).toEqual([10, 4]);

    const done = await cli(["--to-datetime", "2025-07-18T22:00:05.500+02:00"]);
    expect(done.code).toBe(0);
    expect(done.stdout).toStartWith("group readers, topic events: moved 2 partitions\n");
    expect(await committed()).toEqual([6, 4]);
    // The group resumes there: a member reads offsets 6..9 of partition 0 again, nothing of partition 1.
    const { consumer, handled } = await reader();
    await until(() => handled() === 4, "the re-read");
    await Bun.sleep(200);
    expect(handled()).toBe(4);
    await consumer.close();
  });

  test("--to-earliest, --to-offset, --to-latest, one --partition, and --output json", async () => {
    expect((await cli(["--to-earliest", "--partition", "1"])).code).toBe(0);
    expect(await committed()).toEqual([10, 0]);
    const json = await cli(["--to-offset", "3", "--output", "json"]);
    expect(json.code).toBe(0);
    const result = JSON.parse(json.stdout) as ResetOffsetsResult;
    expect(result).toEqual({
      group: "readers",
      topic: "events",
      dryRun: false,
      partitions: [
        { partition: 0, before: 10, after: 3, logStartOffset: 0, highWatermark: 10 },
        { partition: 1, before: 0, after: 3, logStartOffset: 0, highWatermark: 4 },
      ],
    });
    // Offset 7 lies beyond partition 1's log: the broker moves neither partition.
    const beyond = await cli(["--to-offset", "7"]);
    expect(beyond.code).toBe(1);
    expect(beyond.stderr).toContain("offset 7 of events/1 outside the log 0..4");
    expect(await committed()).toEqual([3, 3]);
    expect((await cli(["--to-latest"])).code).toBe(0);
    expect(await committed()).toEqual([10, 4]);
  });

  test("a mistake in the line is a usage error (exit 2) and reaches no broker", async () => {
    const cases: [string[], string][] = [
      [[], "give exactly one of --to-earliest, --to-latest, --to-datetime, --to-offset (got none)"],
      [["--to-earliest", "--to-latest"], "(got --to-earliest and --to-latest)"],
      [["--to-datetime", "2025-07-18T20:00:05"], "--to-datetime wants RFC 3339 with a zone"],
      [["--to-offset", "-1"], '--to-offset must be a non-negative integer, got "-1"'],
      [["--to-earliest", "--partitions", "2"], "groups reset-offsets takes no --partitions; did you mean --partition?"],
    ];
    for (const [args, message] of cases) {
      const run = await cli(args);
      expect([args, run.code, run.stderr]).toEqual([args, 2, expect.stringContaining(message)]);
    }
    const noTopic = await runCli(broker.url, ["groups", "reset-offsets", "readers", "--to-earliest"]);
    expect([noTopic.code, noTopic.stderr.split("\n")[0]]).toEqual([
      2,
      "error: groups reset-offsets: --topic is required",
    ]);
    expect(await committed()).toEqual([10, 4]);
  });
});
