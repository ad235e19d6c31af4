/**
 * `bun run dev` with another source, as a user runs it: `--exporter-url` twice (the
 * streamers scrape two dcgm-exporters and divide them), and `--csv` with a DCGM export of
 * the user's own. Each run is the real stack (embedded ClickHouse, migrate, broker, API,
 * streamers, collector) on free ports; the data must reach the API, and Ctrl-C (SIGINT)
 * must stop everything with exit 0.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { FakeExporterFleet } from "../support/fake-dcgm-exporters.ts";
import { freePort, freePortRange } from "../support/free-port.ts";
import { pumpLines, waitUntil } from "../support/service-process.ts";

const root = resolve(import.meta.dir, "../..");
const dataDirs: string[] = [];
const fleet = new FakeExporterFleet(() => 0);

afterAll(async () => {
  await fleet.stopAll();
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
});

interface Gpu {
  uuid: string;
  hostname: string;
}

async function runDev(args: string[], check: (apiUrl: string) => Promise<void>): Promise<string[]> {
  const dataDir = mkdtempSync(join(tmpdir(), "dev-sources-"));
  dataDirs.push(dataDir);
  const ports = {
    DEV_CLICKHOUSE_PORT: await freePort(),
    DEV_BROKER_PORT: await freePort(),
    DEV_API_PORT: await freePort(),
    DEV_CONTROL_PORT: await freePort(),
    DEV_STREAMER_PORT_BASE: await freePortRange(10),
    DEV_COLLECTOR_PORT_BASE: await freePortRange(10),
  };
  const output: string[] = [];
  const stack = Bun.spawn(["bun", join(root, "services/dev/main.ts"), ...args, "--data-dir", dataDir], {
    cwd: root,
    env: {
      ...process.env,
      ...Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, String(port)])),
      LOG_LEVEL: "warn",
      LOG_FORMAT: "json",
    },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  void pumpLines(stack.stdout, (line) => output.push(line));
  void pumpLines(stack.stderr, (line) => output.push(line));
  try {
    await waitUntil(
      () => output.some((line) => line.includes("GPU telemetry pipeline is running")),
      () => output.slice(-30).join("\n"),
      90_000,
    );
    await check(`http://127.0.0.1:${ports.DEV_API_PORT}`);
    stack.kill("SIGINT");
    expect(await stack.exited).toBe(0);
    return output;
  } finally {
    if (stack.exitCode === null) stack.kill("SIGKILL");
  }
}

async function gpus(apiUrl: string): Promise<Gpu[]> {
  const response = await fetch(`${apiUrl}/api/v1/gpus?limit=1000`);
  return ((await response.json()) as { items: Gpu[] }).items;
}

test("--exporter-url twice: the streamers divide the two exporters (one scraper each) and their GPUs reach the API", async () => {
  const exporters = fleet.start(2);
  const args = ["--streamers", "2", "--collectors", "1"];
  for (const exporter of exporters) args.push("--exporter-url", exporter.url);
  const output = await runDev(args, async (apiUrl) => {
    await waitUntil(
      async () => (await gpus(apiUrl)).length === 8,
      async () => `GPUs: ${(await gpus(apiUrl)).map((gpu) => gpu.hostname)}`,
      60_000,
    );
    const hosts = new Set((await gpus(apiUrl)).map((gpu) => gpu.hostname));
    expect(hosts).toEqual(new Set(exporters.map((exporter) => exporter.host)));
  });
  expect(output.some((line) => line.includes("Streamers        scrape 2 dcgm-exporter(s)"))).toBe(true);
  // Each exporter had one scraper: the group divided them.
  for (const exporter of exporters) {
    const scrapers = new Set(fleet.requests.filter((r) => r.exporter === exporter.index).map((r) => r.scraper));
    expect(scrapers.size).toBe(1);
  }
}, 180_000);

test("--csv replays a DCGM export of one's own", async () => {
  const dir = mkdtempSync(join(tmpdir(), "dev-csv-"));
  dataDirs.push(dir);
  const sample = readFileSync(join(root, "data/dcgm_metrics_20250718_134233.csv"), "utf8").split("\n");
  const header = sample[0] ?? "";
  // Twenty rows of the sample, moved to a host of the user's.
  const rows = sample.slice(1, 21).map((row) => row.replace(/mtv5-dgx1-hgpu-\d+/, "my-lab-node-1"));
  const csv = join(dir, "my-export.csv");
  writeFileSync(csv, `${[header, ...rows].join("\n")}\n`);
  const output = await runDev(
    ["--csv", csv, "--streamers", "1", "--collectors", "1", "--rate", "200"],
    async (apiUrl) => {
      await waitUntil(
        async () => {
          const listed = await gpus(apiUrl);
          return listed.length > 0 && listed.every((gpu) => gpu.hostname === "my-lab-node-1");
        },
        async () => `GPUs: ${JSON.stringify(await gpus(apiUrl))}`,
        60_000,
      );
    },
  );
  expect(output.some((line) => line.includes(`Streamers        replay ${csv}`))).toBe(true);
}, 180_000);
