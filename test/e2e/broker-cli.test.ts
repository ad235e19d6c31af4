import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { digestEntry } from "../../src/auth/token-syntax.ts";
import { Admin } from "../../src/broker-client/admin.ts";
import { Consumer } from "../../src/broker-client/consumer.ts";
import { startTestBroker, type TestBroker } from "../brokers/server/test-broker.ts";
import { testBrokerToken } from "../support/test-tokens.ts";
import { noDevData, runCli } from "./broker-cli-process.ts";

let broker: TestBroker;

beforeAll(async () => {
  broker = await startTestBroker();
});
afterAll(async () => {
  await broker.cleanup();
});

function cli(args: string[], stdin?: string, env?: Record<string, string>) {
  return runCli(broker.url, args, { ...(stdin === undefined ? {} : { stdin }), ...(env === undefined ? {} : { env }) });
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
      token: testBrokerToken,
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

  test("--output json prints one JSON document: the broker's answer", async () => {
    const admin = new Admin({ brokerUrl: broker.url, token: testBrokerToken });
    const json = async (args: string[]) => {
      const run = await cli([...args, "--output", "json"]);
      expect([args, run.code, run.stderr]).toEqual([args, 0, ""]);
      return JSON.parse(run.stdout) as unknown;
    };
    expect(await json(["topics", "list"])).toEqual(await admin.listTopics());
    expect(await json(["topics", "describe", "metrics"])).toEqual(await admin.describeTopic("metrics"));
    expect(await json(["groups", "list"])).toEqual(await admin.listGroups());
    const described = (await json(["groups", "describe", "readers"])) as { lag: unknown; offsets: unknown };
    const expected = await admin.describeGroup("readers");
    expect([described.lag, described.offsets]).toEqual([expected.lag, expected.offsets]);
    expect(await json(["token", "new"])).toMatchObject({ token: expect.any(String), entry: expect.any(String) });
  });

  test("tail stops after --max (or Kafka's --max-messages); --output json prints a JSON object per record", async () => {
    const tail = await cli(["tail", "metrics", "--from-beginning", "--max-messages", "2", "--output", "json"]);
    expect(tail.code).toBe(0);
    const records = tail.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records).toHaveLength(2);
    for (const record of records) {
      expect(Object.keys(record).sort()).toEqual(["key", "offset", "partition", "timestamp", "value"]);
      expect(String(record.value)).toMatch(/^(first|second|third)$/);
    }
  });

  test("an unknown or misplaced flag is refused with a message and exit code 2, before anything runs", async () => {
    const typo = await cli(["tail", "metrics", "--max-mesages", "5"]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toStartWith("error: unknown option --max-mesages; did you mean --max-messages?\n");
    expect(typo.stderr).toContain("usage: bun run broker -- tail <topic>");
    expect(typo.stdout).toBe("");
    const misplaced = await cli(["topics", "list", "--partitions", "3"]);
    expect([misplaced.code, misplaced.stderr.split("\n")[0]]).toEqual([2, "error: topics list takes no --partitions"]);
    const badValue = await cli(["topics", "create", "x", "--partitions", "three"]);
    expect([badValue.code, badValue.stderr.split("\n")[0]]).toEqual([
      2,
      'error: --partitions must be a non-negative integer, got "three"',
    ]);
    expect((await cli(["topics", "describe", "x"])).code).toBe(1);
    const help = await cli(["groups", "reset-offsets", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--to-datetime TIME");
  });

  test("--bootstrap-server takes the broker as Kafka's tools do: host:port, or a URL", async () => {
    const hostPort = new URL(broker.url).host;
    for (const given of [hostPort, broker.url]) {
      const run = await runCli(undefined, ["--bootstrap-server", given, "topics", "list"]);
      expect([given, run.code, run.stdout]).toEqual([given, 0, expect.stringContaining("metrics")]);
    }
  });

  test("errors are one line on stderr with a non-zero exit", async () => {
    const missing = await cli(["topics", "describe", "nope"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: .*404.*unknown topic/);
    expect((await cli(["frobnicate"])).code).toBe(2);
  });

  test("the token comes from --token, BROKER_TOKEN or BROKER_TOKEN_FILE; without one the broker's 401 is the error", async () => {
    const without = await cli(["topics", "list"], undefined, {});
    expect(without.code).toBe(1);
    expect(without.stderr).toMatch(/^error: GET \/v1\/topics: 401 .*needs a bearer token/);
    expect((await cli(["--token", testBrokerToken, "topics", "list"], undefined, {})).code).toBe(0);
    const file = join(noDevData, "token");
    writeFileSync(file, `${testBrokerToken}\n`);
    expect((await cli(["topics", "list"], undefined, { BROKER_TOKEN_FILE: file })).code).toBe(0);
    const wrong = await cli(["--token", "a-token-nobody-issued-0123456789", "topics", "list"], undefined, {});
    expect(wrong.stderr).toMatch(/^error: GET \/v1\/topics: 401 the bearer token is not one this service accepts/);
  });

  test("against a broker on this host it finds the dev stack's admin token under DEV_DATA_DIR/secrets", async () => {
    mkdirSync(join(noDevData, "secrets"), { recursive: true });
    writeFileSync(join(noDevData, "secrets", "broker-admin-token"), `${testBrokerToken}\n`);
    try {
      expect((await cli(["topics", "list"], undefined, {})).code).toBe(0);
    } finally {
      rmSync(join(noDevData, "secrets"), { recursive: true, force: true });
    }
  });

  test("groups delete removes an empty group (admin); token new prints a token and its digest entry", async () => {
    expect((await cli(["groups", "delete", "readers"])).stdout).toContain("deleted group readers");
    expect((await cli(["groups", "describe", "readers"])).stderr).toContain("404");
    const made = await cli(["token", "new", "--groups", "collectors"], undefined, {});
    const [tokenLine, entryLine] = made.stdout.trim().split("\n");
    const token = tokenLine?.split(/\s+/)[1] ?? "";
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(entryLine).toBe(`entry   ${digestEntry(token)} groups=collectors`);
  });
});
