import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rename, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { query } from "chdb";
import Papa from "papaparse";
import {
  CsvFileSource,
  type CsvFileSourceOptions,
  CsvFormatError,
  parseCsvStream,
  uploadParseDefaults,
} from "../../../../services/streamer/sources/csv-source.ts";
import type { RowBatch } from "../../../../services/streamer/sources/row-batch.ts";
import type { TelemetryPoint } from "../../../../src/domain/telemetry.ts";
import { parseLabelList } from "../../../../src/telemetry/labels.ts";
import { decodeTelemetryRecord, recordRow, stampRecord } from "../../../../src/telemetry/record-codec.ts";

const samplePath = new URL("../../../../data/dcgm_metrics_20250718_134233.csv", import.meta.url).pathname;
const sampleText = await Bun.file(samplePath).text();
const sampleRows = (Papa.parse(sampleText.trimEnd(), { delimiter: "," }).data as string[][]).slice(1);
const header = "timestamp,metric_name,gpu_id,device,uuid,modelName,Hostname,container,pod,namespace,value,labels_raw";

let directory = "";
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "csv-source-"));
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

function sourceOptions(path: string, overrides: Partial<CsvFileSourceOptions> = {}): CsvFileSourceOptions {
  return {
    path,
    readChunkBytes: 64 * 1024,
    rowsCachedMax: 100_000,
    verifyContentHash: true,
    batchRowsMax: 500,
    rowCharsMax: 65_536,
    rejectionsKeptMax: 50,
    bytesMax: 64 * 1024 * 1024,
    ...overrides,
  };
}

/** Collects every batch as decoded points (stamped with ts 0) plus the raw tails. */
function collector() {
  const tails: Uint8Array[] = [];
  const keys: string[] = [];
  const onBatch = (batch: RowBatch) => {
    expect(batch.end - batch.start).toBeGreaterThan(0);
    for (let index = batch.start; index < batch.end; index += 1) {
      keys.push(batch.keys[index] as string);
      tails.push(batch.tails[index] as Uint8Array);
    }
  };
  const points = (): TelemetryPoint[] =>
    tails.map((tail) => {
      const decoded = decodeTelemetryRecord(stampRecord(0, tail));
      if (!decoded.ok) throw new Error(`${decoded.reason}: ${decoded.detail}`);
      return decoded.point;
    });
  return { tails, keys, onBatch, points };
}

function csvLine(fields: readonly string[]): string {
  return fields.map((field) => `"${field.replaceAll('"', '""')}"`).join(",");
}

async function writeCsv(name: string, text: string): Promise<string> {
  const path = join(directory, name);
  await writeFile(path, text);
  return path;
}

describe("CsvFileSource over the sample file", () => {
  test("gives 2,470 valid rows: 247 GPUs, 31 hosts, 10 metrics, keyed by UUID", async () => {
    const rows = collector();
    const summary = await new CsvFileSource(sourceOptions(samplePath)).pass(rows.onBatch);
    expect(summary).toMatchObject({ accepted: 2470, rejectedCount: 0, fromCache: false, lines: 2471 });
    const points = rows.points();
    expect(points).toHaveLength(2470);
    expect(new Set(points.map((point) => point.uuid)).size).toBe(247);
    expect(new Set(points.map((point) => point.hostname)).size).toBe(31);
    expect(new Set(points.map((point) => point.metric)).size).toBe(10);
    expect(rows.keys).toEqual(points.map((point) => point.uuid));
    expect(points[0]).toEqual({
      ts: 0,
      source_ts: Date.UTC(2025, 6, 18, 20, 42, 34),
      uuid: "GPU-5fd4f087-86f3-7a43-b711-4771313afc50",
      hostname: "mtv5-dgx1-hgpu-031",
      gpu_index: 0,
      device: "nvidia0",
      model: "NVIDIA H100 80GB HBM3",
      metric: "DCGM_FI_DEV_GPU_UTIL",
      value: 0,
      container: "",
      pod: "",
      namespace: "",
      labels: { DCGM_FI_DRIVER_VERSION: "535.129.03", instance: "mtv5-dgx1-hgpu-031:9400", job: "dgx_dcgm_exporter" },
    });
  });

  test("labels round trip: columns plus kept labels give back every label of labels_raw", async () => {
    const rows = collector();
    await new CsvFileSource(sourceOptions(samplePath)).pass(rows.onBatch);
    const points = rows.points();
    for (const [index, fields] of sampleRows.entries()) {
      const scan = parseLabelList(fields[11] as string);
      if (!scan.ok) throw new Error(scan.error);
      const point = points[index] as TelemetryPoint;
      const rebuilt: Record<string, string> = {
        ...point.labels,
        Hostname: point.hostname,
        UUID: point.uuid,
        __name__: point.metric,
        device: point.device,
        gpu: String(point.gpu_index),
        modelName: point.model,
      };
      expect(rebuilt).toEqual({ ...scan.labels });
    }
  });

  test("ClickHouse reads all 2,470 records' rows as RowBinary", async () => {
    const rows = collector();
    await new CsvFileSource(sourceOptions(samplePath)).pass(rows.onBatch);
    const bodyPath = join(directory, "sample.bin");
    await writeFile(bodyPath, Buffer.concat(rows.tails.map((tail) => recordRow(stampRecord(1_763_790_000_123, tail)))));
    const structure =
      "ts DateTime64(3, 'UTC'), source_ts DateTime64(3, 'UTC'), uuid String, hostname String, gpu_index UInt16, " +
      "device String, model String, metric String, value Float64, container String, pod String, namespace String, " +
      "labels Map(String, String)";
    const result = query(
      `SELECT count() AS rows, uniqExact(uuid) AS gpus, uniqExact(hostname) AS hosts, uniqExact(metric) AS metrics, ` +
        `min(ts) = max(ts) AS one_ts, uniqExact(labels['job']) AS jobs ` +
        `FROM file('${bodyPath}', RowBinary, '${structure.replaceAll("'", "\\'")}')`,
      "JSONEachRow",
    );
    expect(JSON.parse(result)).toEqual({ rows: 2470, gpus: 247, hosts: 31, metrics: 10, one_ts: 1, jobs: 1 });
  });

  test("tiny read chunks (rows and UTF-8 characters split across reads) give the same rows", async () => {
    const wide = collector();
    await new CsvFileSource(sourceOptions(samplePath)).pass(wide.onBatch);
    const unicodeRow = csvLine(sampleRows[0]?.map((field, index) => (index === 6 ? "höst-ノード-😀" : field)) ?? []);
    const path = await writeCsv("unicode.csv", `${sampleText.trimEnd()}\n${unicodeRow}\n`);
    const narrow = collector();
    const summary = await new CsvFileSource(sourceOptions(path, { readChunkBytes: 1024, batchRowsMax: 7 })).pass(
      narrow.onBatch,
    );
    expect(summary.accepted).toBe(2471);
    expect(narrow.tails.slice(0, 2470)).toEqual(wide.tails);
    expect(narrow.points()[2470]?.hostname).toBe("höst-ノード-😀");
  });
});

describe("header-driven columns", () => {
  test("reordered and extra columns give the same datapoints", async () => {
    const baseline = collector();
    await new CsvFileSource(sourceOptions(samplePath)).pass(baseline.onBatch);
    const names = header.split(",");
    const order = [...names.keys()].reverse();
    const shuffledHeader = ["site", ...order.map((index) => names[index] as string), "notes"].join(",");
    const body = sampleRows.map((fields) => csvLine(["dc-1", ...order.map((index) => fields[index] as string), "n/a"]));
    const path = await writeCsv("reordered.csv", `${shuffledHeader}\n${body.join("\n")}\n`);
    const reordered = collector();
    const summary = await new CsvFileSource(sourceOptions(path)).pass(reordered.onBatch);
    expect(summary.accepted).toBe(2470);
    expect(reordered.tails).toEqual(baseline.tails);
  });

  test("a missing required column is an error for the whole file, naming it", async () => {
    const path = await writeCsv("no-uuid.csv", "timestamp,metric_name,gpu_id,Hostname,value\n1,2,3,4,5\n");
    const pass = new CsvFileSource(sourceOptions(path)).pass(() => undefined);
    await expect(pass).rejects.toThrow(CsvFormatError);
    await expect(pass).rejects.toThrow(/uuid/);
    await expect(pass).rejects.toThrow(path);
  });

  test("an empty file has no header", async () => {
    const path = await writeCsv("empty.csv", "");
    await expect(new CsvFileSource(sourceOptions(path)).pass(() => undefined)).rejects.toThrow(/no header/);
  });
});

describe("CSV details", () => {
  const fields = sampleRows[0] as string[];

  test("BOM and CRLF give the same rows as plain LF", async () => {
    const lines = [header, ...sampleRows.slice(0, 50).map(csvLine)];
    const plain = collector();
    await new CsvFileSource(sourceOptions(await writeCsv("lf.csv", `${lines.join("\n")}\n`))).pass(plain.onBatch);
    const windows = collector();
    const crlfPath = await writeCsv("crlf.csv", `\ufeff${lines.join("\r\n")}\r\n`);
    const summary = await new CsvFileSource(sourceOptions(crlfPath, { readChunkBytes: 1024 })).pass(windows.onBatch);
    expect(summary.accepted).toBe(50);
    expect(windows.tails).toEqual(plain.tails);
  });

  test("quoted commas and doubled quotes; a newline inside a quoted field is a control character", async () => {
    const tricky = [...fields];
    tricky[5] = 'NVIDIA "H100", 80GB';
    tricky[6] = "host,with,commas";
    const split = [...fields];
    split[9] = "team\nsplit";
    const broken = csvLine(fields).replace('"0","DCGM', '"0"x,"DCGM');
    const text = `${header}\n${csvLine(tricky)}\n${csvLine(split)}\n${broken}\n${csvLine(fields)}\n`;
    const rows = collector();
    const summary = await new CsvFileSource(sourceOptions(await writeCsv("tricky.csv", text))).pass(rows.onBatch);
    const [first] = rows.points();
    expect(first?.model).toBe('NVIDIA "H100", 80GB');
    expect(first?.hostname).toBe("host,with,commas");
    // The quoted newline makes row 2 span lines 3-4, so the broken row is on line 5.
    expect(summary.rejections).toEqual([
      { line: 3, reason: "control_character", detail: "field 10 holds control character U+000A at character 5" },
      { line: 5, reason: "bad_quoting", detail: expect.any(String) },
    ]);
    expect(summary.accepted).toBe(2);
    expect(summary.lines).toBe(6);
  });

  test("NUL and other control characters are rejected with their line, not stored; a tab is fine", async () => {
    const set = (index: number, value: string) => csvLine(fields.map((field, at) => (at === index ? value : field)));
    const lines = [header, set(6, "host\u0000one"), set(4, "GPU-\u001b[31m"), set(7, "box\u007f"), set(9, "a\tb")];
    const rows = collector();
    const summary = await new CsvFileSource(sourceOptions(await writeCsv("nul.csv", `${lines.join("\n")}\n`))).pass(
      rows.onBatch,
    );
    expect(summary.rejections).toEqual([
      { line: 2, reason: "control_character", detail: "field 7 holds control character U+0000 at character 5" },
      { line: 3, reason: "control_character", detail: "field 5 holds control character U+001B at character 5" },
      { line: 4, reason: "control_character", detail: "field 8 holds control character U+007F at character 4" },
    ]);
    expect(rows.points().map((point) => point.namespace)).toEqual(["a\tb"]);
  });

  test("every rejection reason is counted and reported with its line number", async () => {
    const set = (index: number, value: string) => csvLine(fields.map((field, at) => (at === index ? value : field)));
    const lines = [
      header, // 1
      csvLine(fields), // 2
      set(4, ""), // 3 missing_uuid
      set(1, ""), // 4 missing_metric
      set(10, "twelve"), // 5 non_numeric_value
      set(0, "2025-07-18"), // 6 bad_timestamp
      csvLine(fields.slice(0, 11)), // 7 wrong_column_count
      set(11, 'broken="x'), // 8 bad_labels
      set(2, "gpu0"), // 9 bad_gpu_index
      set(6, "h".repeat(300)), // 10 field_too_long
      "", // 11 blank: skipped, not rejected
      csvLine(fields), // 12
      `${csvLine(fields.slice(0, 11))},"unterminated`, // 13 bad_quoting (runs to the end of the file)
    ];
    const rows = collector();
    const summary = await new CsvFileSource(sourceOptions(await writeCsv("bad.csv", `${lines.join("\n")}\n`))).pass(
      rows.onBatch,
    );
    expect(summary.accepted).toBe(2);
    expect(summary.rejections.map(({ line, reason }) => [line, reason])).toEqual([
      [3, "missing_uuid"],
      [4, "missing_metric"],
      [5, "non_numeric_value"],
      [6, "bad_timestamp"],
      [7, "wrong_column_count"],
      [8, "bad_labels"],
      [9, "bad_gpu_index"],
      [10, "field_too_long"],
      [13, "bad_quoting"],
    ]);
    expect(summary.rejectedCount).toBe(9);
    expect(summary.rejectedByReason).toEqual({
      missing_uuid: 1,
      missing_metric: 1,
      non_numeric_value: 1,
      bad_timestamp: 1,
      wrong_column_count: 1,
      bad_labels: 1,
      bad_gpu_index: 1,
      field_too_long: 1,
      bad_quoting: 1,
    });
  });

  test("rejectionsKeptMax bounds the kept list, not the counts", async () => {
    const bad = csvLine(fields.map((field, index) => (index === 10 ? "x" : field)));
    const path = await writeCsv("many-bad.csv", `${header}\n${`${bad}\n`.repeat(30)}`);
    const summary = await new CsvFileSource(sourceOptions(path, { rejectionsKeptMax: 5 })).pass(() => undefined);
    expect(summary.rejectedByReason).toEqual({ non_numeric_value: 30 });
    expect(summary.rejections.map((rejection) => rejection.line)).toEqual([2, 3, 4, 5, 6]);
  });

  test("an unclosed quote is a file error once it passes rowCharsMax", async () => {
    const text = `${header}\n"2025-07-18T20:42:34Z","${"x".repeat(5000)}\n${csvLine(fields)}\n`.repeat(2);
    const source = new CsvFileSource(
      sourceOptions(await writeCsv("runaway.csv", text), { readChunkBytes: 1024, rowCharsMax: 2048 }),
    );
    await expect(source.pass(() => undefined)).rejects.toThrow(/rowCharsMax 2048/);
  });
});

describe("replay cache", () => {
  const lines = (count: number, value: string) =>
    `${[
      header,
      ...sampleRows
        .slice(0, count)
        .map((fields) => csvLine(fields.map((field, index) => (index === 10 ? value : field)))),
    ].join("\n")}\n`;

  test("an unchanged file replays from the cache with identical rows", async () => {
    const source = new CsvFileSource(sourceOptions(samplePath, { batchRowsMax: 1000 }));
    const first = collector();
    expect((await source.pass(first.onBatch)).fromCache).toBe(false);
    expect(source.cachedRowCount).toBe(2470);
    const batchSizes: number[] = [];
    const second = collector();
    const summary = await source.pass((batch) => {
      batchSizes.push(batch.end - batch.start);
      second.onBatch(batch);
    });
    expect(summary).toMatchObject({ fromCache: true, accepted: 2470 });
    expect(batchSizes).toEqual([1000, 1000, 470]);
    expect(second.tails).toEqual(first.tails);
    expect(second.keys).toEqual(first.keys);
  });

  test("a file replaced by rename is parsed afresh on the next pass", async () => {
    const path = await writeCsv("replaced.csv", lines(10, "1"));
    const source = new CsvFileSource(sourceOptions(path));
    await source.pass(() => undefined);
    await writeFile(`${path}.new`, lines(20, "2"));
    await rename(`${path}.new`, path);
    const rows = collector();
    const summary = await source.pass(rows.onBatch);
    expect(summary).toMatchObject({ fromCache: false, accepted: 20 });
    expect(rows.points().every((point) => point.value === 2)).toBe(true);
    expect((await source.pass(() => undefined)).fromCache).toBe(true);
  });

  test("a ConfigMap-style symlink swap is noticed", async () => {
    const dataA = join(directory, "..data-a");
    const dataB = join(directory, "..data-b");
    await writeCsv("..data-a", lines(5, "1"));
    await writeCsv("..data-b", lines(5, "7"));
    const link = join(directory, "configmap.csv");
    await symlink(dataA, link);
    const source = new CsvFileSource(sourceOptions(link));
    await source.pass(() => undefined);
    await symlink(dataB, `${link}.tmp`);
    await rename(`${link}.tmp`, link);
    const rows = collector();
    expect((await source.pass(rows.onBatch)).fromCache).toBe(false);
    expect(rows.points().map((point) => point.value)).toEqual([7, 7, 7, 7, 7]);
  });

  test("a rewrite keeping size and mtime is caught by the content hash", async () => {
    const path = await writeCsv("same-size.csv", lines(5, "1"));
    const mtimeSeconds = 1_750_000_000;
    await utimes(path, mtimeSeconds, mtimeSeconds);
    const source = new CsvFileSource(sourceOptions(path));
    await source.pass(() => undefined);
    const before = await Bun.file(path).stat();
    await writeFile(path, lines(5, "3"));
    await utimes(path, mtimeSeconds, mtimeSeconds);
    const after = await Bun.file(path).stat();
    expect([after.size, after.mtimeMs]).toEqual([before.size, before.mtimeMs]);
    const rows = collector();
    expect((await source.pass(rows.onBatch)).fromCache).toBe(false);
    expect(rows.points().every((point) => point.value === 3)).toBe(true);
  });

  test("above rowsCachedMax every pass parses (and nothing is cached)", async () => {
    const source = new CsvFileSource(sourceOptions(samplePath, { rowsCachedMax: 1000 }));
    for (let pass = 0; pass < 3; pass += 1) {
      const summary = await source.pass(() => undefined);
      expect(summary).toMatchObject({ fromCache: false, accepted: 2470 });
      expect(source.cachedRowCount).toBe(0);
    }
  });

  test("a replay reports the rejections of the parse it came from", async () => {
    const path = await writeCsv("cached-bad.csv", `${lines(3, "1")}${lines(1, "bad").split("\n")[1]}\n`);
    const source = new CsvFileSource(sourceOptions(path));
    const parsed = await source.pass(() => undefined);
    const replayed = await source.pass(() => undefined);
    expect(replayed.fromCache).toBe(true);
    expect(replayed.rejectedByReason).toEqual({ non_numeric_value: 1 });
    expect(replayed.rejections).toEqual(parsed.rejections);
  });
});

describe("parseCsvStream (uploads)", () => {
  test("streams a request body once and summarises accepted and rejected rows", async () => {
    const bad = csvLine((sampleRows[0] as string[]).map((field, index) => (index === 4 ? "" : field)));
    const text = `${sampleText.trimEnd()}\n${bad}\n`;
    const body = new Response(text).body;
    if (body === null) throw new Error("no body");
    const rows = collector();
    const summary = await parseCsvStream(body, rows.onBatch);
    expect(summary).toEqual({
      accepted: 2470,
      rejected: { missing_uuid: 1 },
      errors: [{ line: 2472, reason: "missing_uuid", detail: "empty uuid" }],
      lines: 2472,
      bytes: Buffer.byteLength(text),
    });
    expect(rows.tails).toHaveLength(2470);
  });

  test("waits for each batch before reading on (backpressure) and keeps order", async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const keys: string[] = [];
    const stream = new Response(sampleText).body;
    if (stream === null) throw new Error("no body");
    await parseCsvStream(
      stream,
      async (batch) => {
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await Bun.sleep(1);
        for (let index = batch.start; index < batch.end; index += 1) keys.push(batch.keys[index] as string);
        inFlight -= 1;
      },
      { ...uploadParseDefaults, batchRowsMax: 100 },
    );
    expect(maxInFlight).toBe(1);
    expect(keys).toEqual(sampleRows.map((fields) => fields[4] as string));
  });

  test("an upload over bytesMax is refused", async () => {
    const stream = new Response(sampleText).body;
    if (stream === null) throw new Error("no body");
    const parse = parseCsvStream(stream, () => undefined, { ...uploadParseDefaults, bytesMax: 10_000 });
    await expect(parse).rejects.toThrow(/bytesMax 10000/);
  });
});
