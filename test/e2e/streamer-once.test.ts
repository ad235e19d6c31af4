/**
 * One real broker process, real streamer processes: once mode over the sample CSV,
 * rejected rows of a bad CSV, the upload endpoint, and SIGTERM flushing a loop.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Papa from "papaparse";
import { decodeTelemetryRecord } from "../../src/telemetry/record-codec.ts";
import { startStreamer, waitUntil } from "../services/streamer/streamer-process.ts";
import { readTopic, type TopicRecord } from "../services/streamer/topic-records.ts";
import { type BrokerProcess, startBroker } from "../support/broker-process.ts";
import { freePort } from "../support/free-port.ts";
import { bearer, testUploadToken } from "../support/test-tokens.ts";

const samplePath = new URL("../../data/dcgm_metrics_20250718_134233.csv", import.meta.url).pathname;
const sampleText = await Bun.file(samplePath).text();
const sampleRows = (Papa.parse(sampleText.trimEnd(), { delimiter: "," }).data as string[][]).slice(1);
const header = "timestamp,metric_name,gpu_id,device,uuid,modelName,Hostname,container,pod,namespace,value,labels_raw";

let broker: BrokerProcess;
let directory = "";

beforeAll(async () => {
  broker = await startBroker();
  directory = await mkdtemp(join(tmpdir(), "streamer-e2e-"));
});
afterAll(async () => {
  await broker?.stop();
  await rm(directory, { recursive: true, force: true });
});

function decoded(records: TopicRecord[]) {
  return records.map((record) => {
    const result = decodeTelemetryRecord(record.value);
    if (!result.ok) throw new Error(`offset ${record.offset}: ${result.reason} ${result.detail}`);
    return { record, point: result.point };
  });
}

/** What identifies a CSV row in a record: GPU, metric, source time, value. */
function rowIdentity(uuid: string, metric: string, sourceTsMs: number, value: number): string {
  return `${uuid}|${metric}|${sourceTsMs}|${value}`;
}

/** The value of streamer_rows_rejected_total{reason=…} in a Prometheus page. */
function rejectedSeries(page: string, reason: string): number | undefined {
  const line = page
    .split("\n")
    .find(
      (candidate) => candidate.startsWith("streamer_rows_rejected_total{") && candidate.includes(`reason="${reason}"`),
    );
  return line === undefined ? undefined : Number(line.split(" ").at(-1));
}

describe("streamer once mode", () => {
  test("streams the sample CSV: 2,470 records keyed by UUID, stamped with the processing time", async () => {
    const startedMs = Date.now();
    const streamer = await startStreamer({
      brokerUrl: broker.url,
      env: { STREAMER_MODE: "once", STREAMER_TOPIC: "once-sample", STREAMER_GROUP: "once-sample" },
    });
    expect(await streamer.exited).toBe(0);
    const endedMs = Date.now();
    const records = decoded(await readTopic(broker.url, "once-sample"));
    expect(records.length).toBe(2_470);
    for (const { record, point } of records) {
      expect(record.key).toBe(point.uuid);
      expect(point.ts).toBeGreaterThanOrEqual(startedMs);
      expect(point.ts).toBeLessThanOrEqual(endedMs);
      expect(record.timestampMs).toBe(point.ts);
    }
    const expected = sampleRows.map((row) => rowIdentity(row[4]!, row[1]!, Date.parse(row[0]!), Number(row[10])));
    const actual = records.map(({ point }) => rowIdentity(point.uuid, point.metric, point.source_ts, point.value));
    expect(actual.sort()).toEqual(expected.sort());
    expect(new Set(records.map(({ point }) => point.uuid)).size).toBe(247);
  }, 30_000);

  test("a bad CSV: bad rows are skipped, counted by reason and logged with their line number", async () => {
    const path = join(directory, "bad.csv");
    const good = sampleRows.slice(0, 3).map((row) => Papa.unparse([row]));
    const lines = [
      header,
      good[0],
      '"2025-07-18T20:42:34Z","DCGM_FI_DEV_GPU_UTIL","0","nvidia0","","H100","host-a","","","","1",""', // line 3: no UUID
      good[1],
      '"2025-07-18T20:42:34Z","DCGM_FI_DEV_GPU_UTIL","0","nvidia0","GPU-x","H100","host-a","","","","abc",""', // line 5
      '"2025-07-18T20:42:34Z","DCGM_FI_DEV_GPU_UTIL","0"', // line 6: wrong column count
      good[2],
    ];
    await writeFile(path, `${lines.join("\n")}\n`);
    const streamer = await startStreamer({
      brokerUrl: broker.url,
      env: { STREAMER_MODE: "loop", STREAMER_CSV_PATH: path, STREAMER_TOPIC: "bad-csv", STREAMER_GROUP: "bad-csv" },
    });
    await streamer.waitForLog('"CSV parsed"');
    await waitUntil(
      async () => (await readTopic(broker.url, "bad-csv").catch(() => [])).length >= 3,
      () => "the three good rows were never produced",
    );
    const page = await (await fetch(`${streamer.url}/metrics`)).text();
    expect(await streamer.stop()).toBe(0);
    expect(rejectedSeries(page, "missing_uuid")).toBe(1);
    expect(rejectedSeries(page, "non_numeric_value")).toBe(1);
    expect(rejectedSeries(page, "wrong_column_count")).toBe(1);
    const rejected = streamer.entries().filter((entry) => entry.msg === "row rejected");
    expect(rejected.map((entry) => [entry.line, entry.reason])).toEqual([
      [3, "missing_uuid"],
      [5, "non_numeric_value"],
      [6, "wrong_column_count"],
    ]);
    // Only the three good rows are ever produced, each GPU's in the loop's order.
    const uuids = new Set(decoded(await readTopic(broker.url, "bad-csv")).map(({ point }) => point.uuid));
    expect(uuids).toEqual(new Set(sampleRows.slice(0, 3).map((row) => row[4]!)));
  }, 30_000);
});

describe("once mode with an unusable file", () => {
  test("logs the problem and exits 1", async () => {
    const path = join(directory, "no-header.csv");
    await writeFile(path, "a,b,c\n1,2,3\n");
    const streamer = await startStreamer({
      brokerUrl: broker.url,
      env: { STREAMER_MODE: "once", STREAMER_CSV_PATH: path, STREAMER_TOPIC: "unusable", STREAMER_GROUP: "unusable" },
    });
    expect(await streamer.exited).toBe(1);
    expect(streamer.entries().some((entry) => entry.msg === "unusable CSV file")).toBe(true);
  }, 30_000);
});

describe("upload endpoint", () => {
  test("streams an uploaded CSV once, produces every valid row and answers the summary", async () => {
    await writeFile(join(directory, "header-only.csv"), `${header}\n`);
    const streamer = await startStreamer({
      brokerUrl: broker.url,
      // The replayed file is a header only: every record in the topic comes from the upload.
      env: {
        STREAMER_CSV_PATH: join(directory, "header-only.csv"),
        STREAMER_TOPIC: "upload",
        STREAMER_GROUP: "upload",
      },
    });
    try {
      await streamer.waitForLog('"msg":"streaming"');
      const body = `${sampleText.trimEnd()}\n"2025-07-18T20:42:34Z","DCGM_FI_DEV_GPU_UTIL","0","nvidia0","","H100","h","","","","1",""\n`;
      const response = await fetch(`${streamer.url}/api/v1/upload`, {
        method: "POST",
        body,
        headers: { "content-type": "text/csv", ...bearer(testUploadToken) },
      });
      expect(response.status).toBe(200);
      const summary = (await response.json()) as {
        accepted: number;
        rejected: Record<string, number>;
        errors: { line: number; reason: string }[];
      };
      expect(summary.accepted).toBe(2_470);
      expect(summary.rejected).toEqual({ missing_uuid: 1 });
      expect(summary.errors).toEqual([expect.objectContaining({ line: 2_472, reason: "missing_uuid" })]);
      const records = await readTopic(broker.url, "upload");
      expect(records.length).toBe(2_470);

      const unusable = await fetch(`${streamer.url}/api/v1/upload`, {
        method: "POST",
        body: "a,b,c\n1,2,3\n",
        headers: { "content-type": "text/csv", ...bearer(testUploadToken) },
      });
      expect(unusable.status).toBe(400);
      expect(((await unusable.json()) as { error: string }).error).toBe("unusable_csv");

      const swagger = (await (await fetch(`${streamer.url}/swagger/json`)).json()) as {
        paths: Record<string, unknown>;
      };
      expect(Object.keys(swagger.paths)).toContain("/api/v1/upload");
    } finally {
      expect(await streamer.stop()).toBe(0);
    }
  }, 30_000);
});

describe("SIGTERM", () => {
  test("a looping streamer flushes what it read and exits 0", async () => {
    const streamer = await startStreamer({
      brokerUrl: broker.url,
      env: { STREAMER_TOPIC: "sigterm", STREAMER_GROUP: "sigterm", STREAMER_RATE_ROWS_PER_S: "20000" },
    });
    await streamer.waitForLog('"CSV parsed"');
    await Bun.sleep(500);
    const stoppedAt = performance.now();
    expect(await streamer.stop()).toBe(0);
    expect(performance.now() - stoppedAt).toBeLessThan(15_000);
    const flushed = streamer.entries().find((entry) => entry.msg === "flushed");
    expect(flushed?.produced).toBeGreaterThan(0);
    expect(flushed?.acked).toBe(flushed?.produced);
    expect(flushed?.unacknowledged).toBe(0);
    const records = await readTopic(broker.url, "sigterm");
    expect(records.length).toBe(flushed?.produced as number);
    const steps = streamer
      .entries()
      .filter((entry) => entry.msg === "shutdown step done")
      .map((entry) => entry.step);
    expect(steps).toEqual(["stop reading", "flush what was read", "leave the group", "stop http"]);
  }, 30_000);
});

describe("SIGTERM with the broker gone", () => {
  test("the deadline's log line says how many records were dropped unacknowledged; refusals were logged", async () => {
    const own = await startBroker();
    const streamer = await startStreamer({
      brokerUrl: own.url,
      env: {
        STREAMER_TOPIC: "gone",
        STREAMER_GROUP: "gone",
        STREAMER_RATE_ROWS_PER_S: "20000",
        STREAMER_SHUTDOWN_TIMEOUT_MS: "2000",
      },
    });
    await streamer.waitForLog('"CSV parsed"');
    await Bun.sleep(300);
    await own.stop();
    await streamer.waitForLog("the broker refused a produce request");
    expect(await streamer.stop()).toBe(1);
    const deadline = streamer
      .entries()
      .find((entry) => entry.msg === "shutdown deadline passed; exiting with work unfinished");
    expect(deadline?.droppedUnacknowledged).toBeGreaterThan(0);
    const refused = streamer
      .entries()
      .find((entry) => entry.msg === "the broker refused a produce request; retrying (nothing is dropped)");
    expect(refused).toMatchObject({ status: 0, attempt: 1 });
    expect(String(refused?.message)).toContain("/v1/topics/gone/produce");
  }, 30_000);
});

describe("without a broker", () => {
  test("serves /health, is not ready, refuses uploads with 503 and still stops cleanly", async () => {
    const streamer = await startStreamer({
      brokerUrl: `http://127.0.0.1:${await freePort()}`,
      env: { STREAMER_TOPIC: "nowhere" },
    });
    expect((await fetch(`${streamer.url}/health`)).status).toBe(200);
    const ready = await fetch(`${streamer.url}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ ready: false, checks: { broker: false, group: false } });
    const upload = await fetch(`${streamer.url}/api/v1/upload`, {
      method: "POST",
      body: `${header}\n`,
      headers: { "content-type": "text/csv", ...bearer(testUploadToken) },
    });
    expect(upload.status).toBe(503);
    await streamer.waitForLog("broker not reachable yet");
    expect(await streamer.stop()).toBe(0);
  }, 30_000);
});
