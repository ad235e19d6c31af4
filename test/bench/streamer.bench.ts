/**
 * One streamer process at rate 0 (as fast as the broker accepts) against a real
 * broker process, replaying the sample CSV in loop mode, and in the same run the
 * parse-only rate of the same CSV content (papaparse alone, in this process).
 *
 * - produced: streamer_rows_produced_total over the measurement window (rows handed
 *   to the producer); acknowledged: broker_produce_records_total over the same window.
 * - first pass: once mode over the sample repeated `firstPassRepeat` times (parse,
 *   validate, encode and produce every row, nothing cached), from the `streaming`
 *   log line to the `flushed` one.
 *
 *   bun run bench:streamer            (BENCH_SHORT=1 for a quick run)
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Papa from "papaparse";
import { startStreamer } from "../services/streamer/streamer-process.ts";
import { startBroker } from "../support/broker-process.ts";
import { metricValue } from "../support/prometheus.ts";

const short = process.env.BENCH_SHORT === "1";
const warmupMs = short ? 1_500 : 3_000;
const measureMs = short ? 3_000 : 10_000;
const parseRepeat = short ? 100 : 400;
const firstPassRepeat = short ? 20 : 100;
const samplePath = new URL("../../data/dcgm_metrics_20250718_134233.csv", import.meta.url).pathname;
const sampleText = await Bun.file(samplePath).text();
const sampleRowCount = 2_470;

function parseOnlyRate(): number {
  let rows = 0;
  const started = performance.now();
  for (let repeat = 0; repeat < parseRepeat; repeat += 1) {
    const result = Papa.parse<string[]>(sampleText, { delimiter: ",", skipEmptyLines: true });
    rows += result.data.length - 1;
  }
  const elapsedMs = performance.now() - started;
  if (rows !== sampleRowCount * parseRepeat) throw new Error(`parse-only saw ${rows} rows`);
  return (rows * 1000) / elapsedMs;
}

async function counters(
  streamerUrl: string,
  brokerUrl: string,
): Promise<{ produced: number; read: number; acked: number; atMs: number }> {
  const [streamerPage, brokerPage] = await Promise.all([
    fetch(`${streamerUrl}/metrics`).then((response) => response.text()),
    fetch(`${brokerUrl}/metrics`).then((response) => response.text()),
  ]);
  return {
    produced: metricValue(streamerPage, "streamer_rows_produced_total") ?? 0,
    read: metricValue(streamerPage, "streamer_rows_read_total") ?? 0,
    acked: metricValue(brokerPage, "broker_produce_records_total") ?? 0,
    atMs: performance.now(),
  };
}

async function loopRates(brokerUrl: string): Promise<{ produced: number; read: number; acked: number }> {
  const streamer = await startStreamer({
    brokerUrl,
    env: { STREAMER_TOPIC: "bench-loop", STREAMER_GROUP: "bench-loop" },
  });
  let rates: { produced: number; read: number; acked: number };
  let code: number | null;
  try {
    await streamer.waitForLog('"CSV parsed"');
    await Bun.sleep(warmupMs);
    const before = await counters(streamer.url, brokerUrl);
    await Bun.sleep(measureMs);
    const after = await counters(streamer.url, brokerUrl);
    const seconds = (after.atMs - before.atMs) / 1000;
    rates = {
      produced: (after.produced - before.produced) / seconds,
      read: (after.read - before.read) / seconds,
      acked: (after.acked - before.acked) / seconds,
    };
  } finally {
    code = await streamer.stop();
  }
  if (code !== 0) throw new Error(`loop streamer exited ${code}`);
  return rates;
}

async function firstPassRate(brokerUrl: string, directory: string): Promise<number> {
  const [header, ...rows] = sampleText.trimEnd().split("\n");
  const path = join(directory, `sample-x${firstPassRepeat}.csv`);
  await writeFile(path, `${[header, ...Array.from({ length: firstPassRepeat }, () => rows).flat()].join("\n")}\n`);
  const streamer = await startStreamer({
    brokerUrl,
    env: { STREAMER_MODE: "once", STREAMER_CSV_PATH: path, STREAMER_TOPIC: "bench-once", STREAMER_GROUP: "bench-once" },
  });
  const code = await streamer.exited;
  if (code !== 0) throw new Error(`once streamer exited ${code}`);
  const entries = streamer.entries();
  const startedMs = Date.parse(String(entries.find((entry) => entry.msg === "streaming")?.time));
  const flushed = entries.find((entry) => entry.msg === "flushed");
  const produced = Number(flushed?.produced);
  if (produced !== sampleRowCount * firstPassRepeat) throw new Error(`once pass produced ${produced} rows`);
  return (produced * 1000) / (Date.parse(String(flushed?.time)) - startedMs);
}

const broker = await startBroker();
const directory = await mkdtemp(join(tmpdir(), "streamer-bench-"));
try {
  const parseOnly = parseOnlyRate();
  const loop = await loopRates(broker.url);
  const firstPass = await firstPassRate(broker.url, directory);
  const parseOnlyAfter = parseOnlyRate();
  const parseOnlyBest = Math.max(parseOnly, parseOnlyAfter);
  const ratio = loop.produced / parseOnlyBest;
  const show = (name: string, rate: number) =>
    console.log(`${name.padEnd(44)} ${Math.round(rate).toLocaleString().padStart(12)} rows/s`);
  console.log(`loop: ${warmupMs} ms warm-up, ${measureMs} ms measured; ${short ? "short" : "full"} mode`);
  show("papaparse parse-only (best of before/after)", parseOnlyBest);
  show("streamer loop: read", loop.read);
  show("streamer loop: produced", loop.produced);
  show("broker: records acknowledged", loop.acked);
  show(`streamer once: parse+produce ${(sampleRowCount * firstPassRepeat).toLocaleString()} rows`, firstPass);
  console.log(`produced / parse-only: ${ratio.toFixed(2)} (targets: >= 300,000 rows/s and >= 0.50)`);
  console.log(
    JSON.stringify({
      bench: "streamer",
      short,
      parse_only_rows_per_s: Math.round(parseOnlyBest),
      read_rows_per_s: Math.round(loop.read),
      produced_rows_per_s: Math.round(loop.produced),
      acked_rows_per_s: Math.round(loop.acked),
      first_pass_rows_per_s: Math.round(firstPass),
      produced_vs_parse_only_ratio: Number(ratio.toFixed(2)),
      target_rows_per_s: 300_000,
      target_ratio: 0.5,
    }),
  );
} finally {
  await broker.stop();
  await rm(directory, { recursive: true, force: true });
}
