import { expect, test } from "bun:test";
import { resolve } from "node:path";

/**
 * The broker benchmark in its short mode, side by side with NATS JetStream and Redis
 * Streams, so CI prints its figures and the benchmark cannot rot. No figure is
 * asserted against a target here: speed targets are read from the printed JSON.
 */
test("bench:broker runs in short mode against its peers and ends with one JSON line of figures", async () => {
  const root = resolve(import.meta.dir, "../..");
  const install = Bun.spawnSync(["bash", "test/support/ensure-system-packages.sh", "nats-server", "redis-server"], {
    cwd: root,
  });
  expect(install.exitCode).toBe(0);
  const run = Bun.spawn(["bun", "test/bench/broker.bench.ts"], {
    cwd: root,
    env: { ...process.env, BENCH_SHORT: "1" },
    stdout: "pipe",
    stderr: "inherit",
  });
  const output = await new Response(run.stdout).text();
  expect(await run.exited).toBe(0);
  process.stdout.write(output);
  const lastLine = output.trim().split("\n").at(-1) ?? "";
  const figures = JSON.parse(lastLine) as {
    bench: string;
    results: Record<
      string,
      { produceRecordsPerSecond: number; consumeRecordsPerSecond: number; ackP99Ms: number; peakRssBytes: number }
    >;
    skipped: Record<string, string>;
  };
  expect(figures.bench).toBe("broker");
  expect(Object.keys(figures.skipped)).toEqual([]);
  for (const peer of ["ours", "nats", "redis"]) {
    const result = figures.results[peer];
    expect(result?.produceRecordsPerSecond).toBeGreaterThan(0);
    expect(result?.consumeRecordsPerSecond).toBeGreaterThan(0);
    expect(result?.peakRssBytes).toBeGreaterThan(0);
  }
}, 300_000);
