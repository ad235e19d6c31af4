import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Consumer } from "../../src/broker-client/consumer.ts";
import { startTestBroker, type TestBroker } from "../brokers/server/test-broker.ts";

const cliMain = new URL("../../services/broker-cli/main.ts", import.meta.url).pathname;
let broker: TestBroker;

beforeAll(async () => {
  broker = await startTestBroker();
});
afterAll(async () => await broker.cleanup());

async function cli(args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn(["bun", cliMain, "--broker", broker.url, ...args], {
    stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin),
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, BROKER_URL: "" },
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, stdout, stderr };
}

describe("bun run broker (CLI)", () => {
  test("topics create, list, describe", async () => {
    expect((await cli(["topics", "create", "metrics", "--partitions", "3"])).stdout).toContain(
      "created topic metrics with 3 partitions",
    );
    const list = await cli(["topics", "list"]);
    expect(list.stdout).toMatch(/TOPIC\s+PARTITIONS\nmetrics\s+3/);
    const describe = await cli(["topics", "describe", "metrics"]);
    expect(describe.stdout).toContain("PARTITION  START  HIGH-WATERMARK");
    expect(describe.stdout.trim().split("\n").length).toBe(5);
  });

  test("produce reads key<TAB>value lines; tail --from-beginning prints them decoded", async () => {
    const produced = await cli(["produce", "metrics"], "gpu-1\tfirst\ngpu-2\tsecond\ngpu-1\tthird\n");
    expect(produced.code).toBe(0);
    expect(produced.stdout).toContain("produced 3 records to metrics");
    const tail = await cli(["tail", "metrics", "--from-beginning", "--max", "3"]);
    const lines = tail.stdout.trim().split("\n");
    expect(lines.length).toBe(3);
    const values = lines.map((line) => line.split("\t").slice(3).join("\t")).sort();
    expect(values).toEqual(["gpu-1\tfirst", "gpu-1\tthird", "gpu-2\tsecond"]);
  });

  test("groups list and describe show the lag table", async () => {
    let handled = 0;
    const consumer = new Consumer({
      brokerUrl: broker.url,
      group: "readers",
      topics: ["metrics"],
      clientId: "reader-1",
      fetchWaitMs: 50,
      eachBatch: (batch) => {
        handled += batch.recordCount;
      },
    });
    await consumer.start();
    while (handled < 3) await Bun.sleep(10);
    await consumer.close();
    expect((await cli(["groups", "list"])).stdout).toMatch(/GROUP\s+STATE\s+GENERATION\s+MEMBERS\nreaders/);
    const described = await cli(["groups", "describe", "readers"]);
    expect(described.stdout).toContain("TOPIC    PARTITION  COMMITTED  HIGH-WATERMARK  LAG");
    expect(described.stdout).toContain("total lag 0");
  });

  test("errors are one line on stderr with a non-zero exit", async () => {
    const missing = await cli(["topics", "describe", "nope"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: .*404.*unknown topic/);
    expect((await cli(["frobnicate"])).code).toBe(2);
  });
});
