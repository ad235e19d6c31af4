/**
 * Every process logs one JSON object per line, also when things go wrong: the stack
 * runs as `bun run dev` runs it, ClickHouse is killed mid-stream (the collector's
 * ClickHouse client used to print multi-line plain text then; that it logs through
 * pino is test/src/clickhouse/client-logger.test.ts), and every line of every
 * process's log file must parse as a JSON object with a level and a message.
 */
import { afterAll, expect, test } from "bun:test";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { eventually, getJson, type PipelineStack, startPipelineStack } from "./pipeline-stack.ts";

let pipeline: PipelineStack | undefined;
afterAll(async () => {
  await pipeline?.stop();
});

test("no process writes a line that is not JSON, through a ClickHouse crash", async () => {
  const info = { LOG_LEVEL: "info" };
  pipeline = await startPipelineStack({
    clickhouse: info,
    broker: info,
    api: info,
    streamer: { ...info, STREAMER_RATE_ROWS_PER_S: "2000" },
    collector: { ...info, COLLECTOR_RETRY_BACKOFF_MS_MAX: "500" },
  });
  const stack = pipeline;
  await stack.stack.scale("collector", 1);
  await stack.stack.scale("streamer", 1);
  await eventually(
    "GPUs in the API",
    async () =>
      (await getJson<{ items: unknown[] }>(`${stack.apiUrl}/api/v1/gpus?limit=5`)).items.length > 0 ? true : undefined,
    30_000,
  );
  const clickhouse = stack.supervisor.status().find((status) => status.name === "clickhouse");
  if (clickhouse?.pid === undefined) throw new Error("no ClickHouse process");
  process.kill(clickhouse.pid, "SIGKILL");
  await Bun.sleep(4_000);
  await stack.stack.scale("streamer", 0);
  await stack.stack.scale("collector", 0);
  await stack.supervisor.stopAll();

  const logDir = join(stack.plan.dataDir, "logs");
  const bad: string[] = [];
  let lines = 0;
  for (const name of await readdir(logDir)) {
    for (const line of (await readFile(join(logDir, name), "utf8")).split("\n")) {
      if (line === "") continue;
      lines += 1;
      try {
        const entry = JSON.parse(line) as { level?: unknown; msg?: unknown };
        if (typeof entry.level !== "number" || typeof entry.msg !== "string") bad.push(`${name}: ${line}`);
      } catch {
        bad.push(`${name}: ${line}`);
      }
    }
  }
  expect(lines).toBeGreaterThan(50);
  expect(bad.slice(0, 10)).toEqual([]);
}, 120_000);
