import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import Papa from "papaparse";
import { eventually, getJson, type PipelineStack, startPipelineStack } from "./pipeline-stack.ts";

/**
 * The whole pipeline as `bun run dev` runs it — embedded ClickHouse, broker, API,
 * collectors, streamers as separate processes — checked through the public API only.
 */

interface CsvRow {
  timestamp: string;
  metric_name: string;
  gpu_id: string;
  device: string;
  uuid: string;
  modelName: string;
  Hostname: string;
  value: string;
}
interface Gpu {
  uuid: string;
  hostname: string;
  gpu_index: number;
  device: string;
  model: string;
  driver_version: string;
  metrics: string[];
}
interface TelemetryItem {
  timestamp: string;
  metric: string;
  value: number;
  source_timestamp: string;
}
interface TelemetryPage {
  items: TelemetryItem[];
  next_cursor: string | null;
}

const csvPath = join(resolve(import.meta.dir, "../.."), "data/dcgm_metrics_20250718_134233.csv");
const csvRows = Papa.parse<CsvRow>(readFileSync(csvPath, "utf8"), { header: true, skipEmptyLines: true }).data;
const uuids = [...new Set(csvRows.map((row) => row.uuid))];

let pipeline: PipelineStack;

beforeAll(async () => {
  pipeline = await startPipelineStack({
    streamer: { STREAMER_MODE: "once", STREAMER_HEARTBEAT_MS: "500", STREAMER_SESSION_TIMEOUT_MS: "4000" },
    collector: { COLLECTOR_LINGER_MS: "200", COLLECTOR_SESSION_TIMEOUT_MS: "4000" },
  });
}, 120_000);

afterAll(async () => {
  await pipeline?.stop();
}, 120_000);

async function listGpus(): Promise<Gpu[]> {
  const gpus: Gpu[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 10; page += 1) {
    const query = cursor === null ? "limit=100" : `limit=100&cursor=${encodeURIComponent(cursor)}`;
    const body: { items: Gpu[]; next_cursor: string | null } = await getJson(`${pipeline.apiUrl}/api/v1/gpus?${query}`);
    gpus.push(...body.items);
    cursor = body.next_cursor;
    if (cursor === null) break;
  }
  return gpus;
}

/** Every datapoint of one GPU in [startMs, endMs], walking the cursor. */
async function telemetry(uuid: string, startMs: number, endMs: number, extra = ""): Promise<TelemetryItem[]> {
  const items: TelemetryItem[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 100; page += 1) {
    const window = `start_time=${new Date(startMs).toISOString()}&end_time=${new Date(endMs).toISOString()}`;
    const next = cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`;
    const body: TelemetryPage = await getJson(
      `${pipeline.apiUrl}/api/v1/gpus/${uuid}/telemetry?${window}&limit=10000${extra}${next}`,
    );
    items.push(...body.items);
    cursor = body.next_cursor;
    if (cursor === null) return items;
  }
  throw new Error(`more than 100 pages for ${uuid}`);
}

async function countAll(startMs: number, endMs: number): Promise<{ total: number; duplicates: number }> {
  let total = 0;
  let duplicates = 0;
  for (const uuid of uuids) {
    const items = await telemetry(uuid, startMs, endMs);
    total += items.length;
    duplicates += items.length - new Set(items.map((item) => `${item.metric}@${item.timestamp}`)).size;
  }
  return { total, duplicates };
}

async function topicRecords(): Promise<number> {
  const topic: { partitions: { highWatermark: number }[] } = await getJson(
    `${pipeline.brokerUrl}/v1/topics/telemetry`,
    pipeline.brokerToken,
  );
  return topic.partitions.reduce((sum, partition) => sum + partition.highWatermark, 0);
}

describe("the sample CSV streamed once through the whole pipeline", () => {
  let startedMs = 0;
  let finishedMs = 0;

  beforeAll(async () => {
    startedMs = Date.now();
    await pipeline.stack.scale("collector", 2);
    await pipeline.stack.scale("streamer", 1);
    await eventually(
      "2,470 datapoints through the API",
      async () => ((await countAll(startedMs - 1, Date.now() + 1_000)).total === 2_470 ? true : undefined),
      90_000,
    );
    finishedMs = Date.now();
  }, 120_000);

  test("all 247 GPUs are listed with the CSV's metadata", async () => {
    const gpus = await listGpus();
    expect(gpus).toHaveLength(247);
    const byUuid = new Map(gpus.map((gpu) => [gpu.uuid, gpu]));
    for (const row of csvRows) {
      const gpu = byUuid.get(row.uuid);
      expect(gpu).toBeDefined();
      expect({ hostname: gpu?.hostname, gpu_index: gpu?.gpu_index, device: gpu?.device, model: gpu?.model }).toEqual({
        hostname: row.Hostname,
        gpu_index: Number(row.gpu_id),
        device: row.device,
        model: row.modelName,
      });
      expect(gpu?.metrics).toContain(row.metric_name);
    }
    expect(gpus.every((gpu) => gpu.driver_version === "535.129.03")).toBe(true);
  });

  test("values equal the CSV's for a sample of GPUs, stamped with processing times in the test's window", async () => {
    for (const uuid of uuids.filter((_, index) => index % 25 === 0)) {
      const items = await telemetry(uuid, startedMs - 1, finishedMs);
      const expected = csvRows.filter((row) => row.uuid === uuid);
      expect(items).toHaveLength(expected.length);
      for (const row of expected) {
        const item = items.find((candidate) => candidate.metric === row.metric_name);
        expect(item?.value).toBe(Number(row.value));
        expect(Date.parse(item?.source_timestamp ?? "")).toBe(Date.parse(row.timestamp));
        const processedMs = Date.parse(item?.timestamp ?? "");
        expect(processedMs).toBeGreaterThanOrEqual(startedMs);
        expect(processedMs).toBeLessThanOrEqual(finishedMs);
      }
    }
  });

  test("start_time and end_time are inclusive at the exact millisecond", async () => {
    const uuid = uuids[0] ?? "";
    const items = await telemetry(uuid, startedMs - 1, finishedMs);
    const times = items.map((item) => Date.parse(item.timestamp)).sort((a, b) => a - b);
    const first = times[0] ?? 0;
    const last = times.at(-1) ?? 0;
    expect(await telemetry(uuid, first, last)).toHaveLength(items.length);
    const atFirst = times.filter((time) => time === first).length;
    const atLast = times.filter((time) => time === last).length;
    expect(await telemetry(uuid, first, first)).toHaveLength(atFirst);
    if (first !== last) {
      expect(await telemetry(uuid, first + 1, last)).toHaveLength(items.length - atFirst);
      expect(await telemetry(uuid, first, last - 1)).toHaveLength(items.length - atLast);
    }
  });

  test("exactly 2,470 datapoints: none missing, none duplicated", async () => {
    expect(await countAll(startedMs - 1, finishedMs + 60_000)).toEqual({ total: 2_470, duplicates: 0 });
    expect(await topicRecords()).toBe(2_470);
  });
});

describe("scaling mid-stream in loop mode loses and duplicates nothing", () => {
  test("collectors 2→4→1 and streamers 1→3 while streaming", async () => {
    const before = await topicRecords();
    const phaseStartMs = Date.now();
    pipeline.plan.extraEnv = {
      ...pipeline.plan.extraEnv,
      streamer: {
        STREAMER_MODE: "loop",
        STREAMER_RATE_ROWS_PER_S: "1500",
        STREAMER_HEARTBEAT_MS: "500",
        STREAMER_SESSION_TIMEOUT_MS: "4000",
      },
    };
    await pipeline.stack.scale("streamer", 1);
    await Bun.sleep(2_500);
    await pipeline.stack.scale("streamer", 3);
    await Bun.sleep(2_500);
    await pipeline.stack.scale("collector", 4);
    await Bun.sleep(3_000);
    await pipeline.stack.scale("collector", 1);
    await Bun.sleep(2_500);
    await pipeline.stack.scale("streamer", 0);
    const produced = (await topicRecords()) - before;
    expect(produced).toBeGreaterThan(5_000);
    const counted = await eventually(
      `${produced} datapoints of the scaling phase through the API`,
      async () => {
        const count = await countAll(phaseStartMs - 1, Date.now() + 1_000);
        return count.total >= produced ? count : undefined;
      },
      90_000,
    );
    expect(counted).toEqual({ total: produced, duplicates: 0 });
  }, 180_000);
});
