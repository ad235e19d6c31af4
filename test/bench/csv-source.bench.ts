/**
 * CSV source throughput, against papaparse alone on the same content.
 *
 * - parse-only: Papa.parse over the sample CSV's text, repeated to ~1M rows
 *   (rows as string arrays; no validation, nothing produced): the reference rate.
 * - first pass: our streaming parse + validation + record encoding of a file holding
 *   the sample 40 times (what a file above rowsCachedMax costs on every pass).
 * - cached replay: `CsvFileSource.pass()` over the unchanged sample file (stat +
 *   content hash + walk of the cached rows), stamping each row with a fresh
 *   processing time into its record bytes as the produce loop does.
 *
 *   bun run bench:csv
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Papa from "papaparse";
import { stampSlabBytes } from "../../services/streamer/batch-producer.ts";
import { RecordStamper } from "../../services/streamer/record-stamper.ts";
import { CsvFileSource, type CsvFileSourceOptions } from "../../services/streamer/sources/csv-source.ts";
import type { RowBatch } from "../../services/streamer/sources/row-batch.ts";

const samplePath = new URL("../../data/dcgm_metrics_20250718_134233.csv", import.meta.url).pathname;
const sampleText = await Bun.file(samplePath).text();
const sampleRowCount = 2_470;
const repeatCount = 400; // 988,000 rows
const roundCount = 3;
const batchRowsMax = 1_000;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function sourceOptions(path: string, rowsCachedMax: number): CsvFileSourceOptions {
  return {
    path,
    readChunkBytes: 1024 * 1024,
    rowsCachedMax,
    verifyContentHash: true,
    batchRowsMax,
    rowCharsMax: 65_536,
    rejectionsKeptMax: 100,
    bytesMax: 1024 * 1024 * 1024,
  };
}

function benchParseOnly(): number {
  let rows = 0;
  const started = performance.now();
  for (let repeat = 0; repeat < repeatCount; repeat += 1) {
    const result = Papa.parse<string[]>(sampleText, { delimiter: ",", skipEmptyLines: true });
    rows += result.data.length - 1;
  }
  const elapsedMs = performance.now() - started;
  if (rows !== sampleRowCount * repeatCount) throw new Error(`parse-only saw ${rows} rows`);
  return (rows * 1000) / elapsedMs;
}

async function benchFirstPass(path: string, expectedRows: number): Promise<number> {
  const source = new CsvFileSource(sourceOptions(path, 0));
  let rows = 0;
  const started = performance.now();
  const summary = await source.pass((batch) => {
    rows += batch.end - batch.start;
  });
  const elapsedMs = performance.now() - started;
  if (summary.fromCache || rows !== expectedRows)
    throw new Error(`first pass gave ${rows} rows (cache ${summary.fromCache})`);
  return (rows * 1000) / elapsedMs;
}

/** Stamps every row of each batch with the batch's processing time into record bytes, as the produce loop does. */
function batchStamper() {
  const stamper = new RecordStamper(stampSlabBytes);
  const totals = { rows: 0, bytes: 0 };
  const onBatch = (batch: RowBatch) => {
    const nowMs = Date.now();
    for (let index = batch.start; index < batch.end; index += 1) {
      totals.bytes += stamper.stamp(nowMs, batch.tails[index] as Uint8Array).byteLength;
    }
    totals.rows += batch.end - batch.start;
  };
  return { onBatch, totals };
}

async function benchReplay(): Promise<{ rowsPerSecond: number; bytesPerRow: number }> {
  const source = new CsvFileSource(sourceOptions(samplePath, 1_000_000));
  await source.pass(() => undefined); // fills the cache
  const stamper = batchStamper();
  const started = performance.now();
  for (let repeat = 0; repeat < repeatCount; repeat += 1) {
    const summary = await source.pass(stamper.onBatch);
    if (!summary.fromCache) throw new Error("replay missed the cache");
  }
  const elapsedMs = performance.now() - started;
  if (stamper.totals.rows !== sampleRowCount * repeatCount) throw new Error(`replay gave ${stamper.totals.rows} rows`);
  return {
    rowsPerSecond: (stamper.totals.rows * 1000) / elapsedMs,
    bytesPerRow: stamper.totals.bytes / stamper.totals.rows,
  };
}

const directory = await mkdtemp(join(tmpdir(), "csv-bench-"));
try {
  const bigPath = join(directory, "sample-x40.csv");
  const [headerLine, ...bodyLines] = sampleText.trimEnd().split("\n");
  const body = bodyLines.join("\n");
  await writeFile(bigPath, `${headerLine}\n${Array.from({ length: 40 }, () => body).join("\n")}\n`);

  const parseOnly: number[] = [];
  const firstPass: number[] = [];
  const replays: number[] = [];
  let bytesPerRow = 0;
  for (let round = 0; round < roundCount; round += 1) {
    parseOnly.push(benchParseOnly());
    firstPass.push(await benchFirstPass(bigPath, sampleRowCount * 40));
    const replay = await benchReplay();
    replays.push(replay.rowsPerSecond);
    bytesPerRow = replay.bytesPerRow;
  }
  const parseOnlyRate = median(parseOnly);
  const replayRate = median(replays);
  const firstPassRate = median(firstPass);
  const show = (name: string, rate: number) =>
    console.log(`${name.padEnd(38)} ${Math.round(rate).toLocaleString().padStart(12)} rows/s`);
  console.log(
    `${(sampleRowCount * repeatCount).toLocaleString()} rows per measurement, median of ${roundCount} rounds`,
  );
  show("papaparse parse-only", parseOnlyRate);
  show("first pass (parse+validate+encode)", firstPassRate);
  show("cached replay -> stamped records", replayRate);
  console.log(
    `record: ${bytesPerRow.toFixed(0)} bytes/row; replay / parse-only: ${(replayRate / parseOnlyRate).toFixed(2)}`,
  );
  console.log(
    JSON.stringify({
      bench: "csv-source",
      rows: sampleRowCount * repeatCount,
      parse_only_rows_per_s: Math.round(parseOnlyRate),
      first_pass_rows_per_s: Math.round(firstPassRate),
      replay_rows_per_s: Math.round(replayRate),
      replay_vs_parse_only_ratio: Number((replayRate / parseOnlyRate).toFixed(2)),
      record_bytes_per_row: Math.round(bytesPerRow),
    }),
  );
} finally {
  await rm(directory, { recursive: true, force: true });
}
