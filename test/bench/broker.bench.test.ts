import { expect, test } from "bun:test";
import { resolve } from "node:path";

/**
 * A smoke test of the broker benchmark's code: its short mode against our broker only,
 * so the benchmark cannot rot. The NATS and Redis comparison stays under
 * `bun run bench:broker`; no figure is asserted here (targets are read from the JSON).
 */
test("bench:broker runs in short mode and ends with one JSON line of figures", async () => {
  const root = resolve(import.meta.dir, "../..");
  const run = Bun.spawn(["bun", "test/bench/broker.bench.ts"], {
    cwd: root,
    env: { ...process.env, BENCH_SHORT: "1", BENCH_PEERS: "", BENCH_CHECK_ROUNDS: "1" },
    stdout: "pipe",
    stderr: "inherit",
  });
  const output = await new Response(run.stdout).text();
  expect(await run.exited).toBe(0);
  const lastLine = output.trim().split("\n").at(-1) ?? "";
  const figures = JSON.parse(lastLine) as {
    bench: string;
    record_check_ratio: number;
    token_ratio: number;
    results: Record<string, { produceRecordsPerSecond: number; consumeRecordsPerSecond: number; peakRssBytes: number }>;
  };
  expect(figures.bench).toBe("broker");
  const ours = figures.results.ours;
  expect(ours?.produceRecordsPerSecond).toBeGreaterThan(0);
  expect(ours?.consumeRecordsPerSecond).toBeGreaterThan(0);
  expect(ours?.peakRssBytes).toBeGreaterThan(0);
  expect(figures.record_check_ratio).toBeGreaterThan(0);
  expect(figures.token_ratio).toBeGreaterThan(0);
}, 300_000);
