import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { apiSpec } from "../../services/dev/stack-plan.ts";
import type { TelemetryPoint } from "../../src/domain/telemetry.ts";
import { encodeTelemetryRecord } from "../../src/telemetry/record-codec.ts";
import { produceRecords } from "../services/collector/telemetry-fixture.ts";
import { openBrowser, type TestBrowser } from "../support/browser.ts";
import { freePort } from "../support/free-port.ts";
import { eventually, getJson, type PipelineStack, startPipelineStack } from "./pipeline-stack.ts";

/**
 * The dashboard and both Swagger UIs in headless Chromium, against the real processes
 * as `bun run dev` starts them. No request may leave 127.0.0.1 and no page may log an
 * error. Screenshots go to test/artifacts/screenshots (git-ignored); with
 * UPDATE_README_SCREENSHOTS=1 they also replace the README's copies.
 */

/** What the functions run inside the page see (the tests are typed without the DOM library). */
declare const document: {
  querySelector(selector: string): { getAttribute(name: string): string | null; style: { background: string } } | null;
};

const root = resolve(import.meta.dir, "../..");
const artifacts = join(root, "test", "artifacts", "screenshots");
const readmeCopies = join(root, "services", "api", "dashboard", "screenshots");
const utilization = "DCGM_FI_DEV_GPU_UTIL";

interface Gpu {
  uuid: string;
  hostname: string;
  gpu_index: number;
  device: string;
  model: string;
  metrics: string[];
  mig_instances: { id: string }[];
}

let pipeline: PipelineStack;
let browser: TestBrowser;

beforeAll(async () => {
  pipeline = await startPipelineStack({
    streamer: {
      STREAMER_MODE: "loop",
      STREAMER_RATE_ROWS_PER_S: "2470",
      STREAMER_HEARTBEAT_MS: "500",
      STREAMER_SESSION_TIMEOUT_MS: "4000",
    },
    collector: { COLLECTOR_LINGER_MS: "200", COLLECTOR_SESSION_TIMEOUT_MS: "4000" },
  });
  await pipeline.stack.scale("collector", 1);
  await pipeline.stack.scale("streamer", 1);
  await eventually(
    "247 GPUs in the fleet",
    async () => ((await fleet()).items.length === 247 ? true : undefined),
    90_000,
  );
  browser = await openBrowser();
  mkdirSync(artifacts, { recursive: true });
}, 150_000);

afterAll(async () => {
  await browser?.close();
  await pipeline?.stop();
}, 120_000);

function fleet(): Promise<{ items: { uuid: string }[] }> {
  return getJson(`${pipeline.apiUrl}/api/v1/fleet?metric=${utilization}`);
}

async function screenshot(name: string): Promise<void> {
  const path = join(artifacts, `${name}.png`);
  await browser.page.screenshot({ path, fullPage: name !== "fleet" });
  if (process.env.UPDATE_README_SCREENSHOTS === "1") {
    mkdirSync(readmeCopies, { recursive: true });
    copyFileSync(path, join(readmeCopies, `${name}.png`));
  }
}

/** One datapoint of `gpu`, stamped now, through the broker as a streamer would send it. */
async function produceNow(gpu: Gpu, metric: string, value: number): Promise<number> {
  const ts = Date.now();
  const point: TelemetryPoint = {
    ts,
    source_ts: ts,
    uuid: gpu.uuid,
    hostname: gpu.hostname,
    gpu_index: gpu.gpu_index,
    device: gpu.device,
    model: gpu.model,
    metric,
    value,
    container: "",
    pod: "",
    namespace: "",
    labels: {},
  };
  await produceRecords(pipeline.brokerUrl, "telemetry", [{ key: gpu.uuid, value: encodeTelemetryRecord(point) }]);
  return ts;
}

/** A datapoint of one of `gpu`'s MIG instances, as dcgm-exporter labels it. */
function migPoint(
  gpu: Gpu,
  instance: { id: string; profile: string; namespace: string; pod: string; container: string },
): Omit<TelemetryPoint, "ts" | "value"> {
  return {
    source_ts: Date.now(),
    uuid: gpu.uuid,
    hostname: gpu.hostname,
    gpu_index: gpu.gpu_index,
    device: gpu.device,
    model: gpu.model,
    metric: "DCGM_FI_DEV_FB_USED",
    namespace: instance.namespace,
    pod: instance.pod,
    container: instance.container,
    labels: { GPU_I_ID: instance.id, GPU_I_PROFILE: instance.profile },
  };
}

async function operationCount(documentUrl: string): Promise<number> {
  const document: { paths: Record<string, Record<string, unknown>> } = await getJson(documentUrl);
  return Object.values(document.paths).reduce((sum, operations) => sum + Object.keys(operations).length, 0);
}

describe("the dashboard in a real browser", () => {
  test("the fleet grid shows all 247 GPUs of the sample; hovering shows a GPU's latest values", async () => {
    const { page } = browser;
    await page.goto(`${pipeline.apiUrl}/`);
    await page.waitForSelector('.fleet-grid[data-gpu-count="247"]', { timeout: 20_000 });
    expect(await page.locator(".gpu-cell").count()).toBe(247);
    expect(await page.locator(".host-row").count()).toBe(31);
    await page.locator(".gpu-cell").nth(10).hover();
    const tooltip = page.locator(".tooltip");
    await tooltip.waitFor({ state: "visible" });
    expect(await tooltip.textContent()).toContain("Utilization");
    await screenshot("fleet");
  }, 60_000);

  test("clicking a GPU opens its page with its metadata and a chart per metric, with data", async () => {
    const { page } = browser;
    const cell = page.locator(".gpu-cell").nth(10);
    const uuid = (await cell.getAttribute("data-uuid")) ?? "";
    await cell.click();
    await page.waitForURL(`**/#/gpu/${encodeURIComponent(uuid)}`);
    const gpu: Gpu = await getJson(`${pipeline.apiUrl}/api/v1/gpus/${uuid}`);
    await page.waitForSelector(".chart[data-points]", { timeout: 20_000 });
    expect(await page.locator('dd[data-field="uuid"]').textContent()).toBe(uuid);
    expect(await page.locator('dd[data-field="host"]').textContent()).toBe(gpu.hostname);
    expect(await page.locator(".chart[data-metric]").count()).toBe(gpu.metrics.length);
    for (const metric of gpu.metrics) {
      const points = Number(await page.locator(`.chart[data-metric="${metric}"]`).getAttribute("data-points"));
      expect({ metric, hasData: points > 0 }).toEqual({ metric, hasData: true });
    }
    // The value axis is as wide as its labels: 80,000 MiB needs more room than 100 %, and fits.
    const axisWidth = async (metric: string) =>
      (await page.locator(`.chart[data-metric="${metric}"] .u-axis`).nth(1).boundingBox())?.width ?? 0;
    const [framebuffer, percent] = [await axisWidth("DCGM_FI_DEV_FB_FREE"), await axisWidth(utilization)];
    expect(framebuffer).toBeGreaterThan(percent);
    expect(framebuffer).toBeGreaterThan(60);
    // A few live buckets make a better picture; the check above does not depend on it.
    await page
      .waitForFunction(() => Number(document.querySelector(".chart")?.getAttribute("data-points")) >= 3, undefined, {
        timeout: 30_000,
      })
      .catch(() => undefined);
    await screenshot("gpu");
  }, 90_000);

  test("the pipeline page shows rates, lag per partition and the processes", async () => {
    const { page } = browser;
    await page.goto(`${pipeline.apiUrl}/#/pipeline`);
    await page.waitForFunction(
      () => Number(document.querySelector('.chart[data-chart="rates"]')?.getAttribute("data-points")) >= 5,
      undefined,
      { timeout: 20_000 },
    );
    expect(await page.locator("table.partitions tr").count()).toBe(13);
    expect(await page.locator('.processes li[data-status="ready"]').count()).toBeGreaterThanOrEqual(5);
    // The dev stack probes 10 streamer and 10 collector slots; the 9 + 9 idle ones are one line per kind.
    const idle = await page.locator(".processes li.idle > span:nth-child(2)").allTextContents();
    expect(idle.sort()).toEqual(["9 collector slots", "9 streamer slots"]);
    expect(await page.locator('[data-tile="live-tail"] .tile-value').textContent()).toBe("live");
    await screenshot("pipeline");
  }, 60_000);

  test("a MIG GPU lists its instances and their pods: on its page, each instance's own page, the fleet tooltip", async () => {
    const { page } = browser;
    const [first] = (await fleet()).items;
    const gpu: Gpu = await getJson(`${pipeline.apiUrl}/api/v1/gpus/${first?.uuid}`);
    const instances = [
      {
        id: "1",
        profile: "3g.40gb",
        namespace: "research",
        pod: "bert-pretrain-0",
        container: "trainer",
        value: 30_218,
      },
      {
        id: "9",
        profile: "1g.10gb",
        namespace: "inference",
        pod: "triton-7c9d8-abcde",
        container: "server",
        value: 9_811,
      },
    ];
    for (let round = 0; round < 3; round += 1) {
      await produceRecords(
        pipeline.brokerUrl,
        "telemetry",
        instances.map((instance) => ({
          key: gpu.uuid,
          value: encodeTelemetryRecord({
            ...migPoint(gpu, instance),
            ts: Date.now() - round * 1_000,
            value: instance.value + round,
          }),
        })),
      );
    }
    await eventually(
      "the GPU's MIG instances in the registry",
      async () =>
        (await getJson<Gpu>(`${pipeline.apiUrl}/api/v1/gpus/${gpu.uuid}`)).mig_instances.length === 2
          ? true
          : undefined,
      30_000,
    );
    await page.goto(`${pipeline.apiUrl}/#/gpu/${gpu.uuid}?window=5m`);
    const list = page.locator('dd[data-field="mig-instances"] li');
    await list.first().waitFor({ timeout: 20_000 });
    expect(await list.count()).toBe(2);
    expect(await list.first().textContent()).toContain("research/bert-pretrain-0 (trainer)");
    await list.nth(1).locator("a").click();
    await page.waitForURL(`**/#/gpu/${encodeURIComponent(`${gpu.uuid}:mig9`)}`);
    await page.waitForSelector('.chart[data-metric="DCGM_FI_DEV_FB_USED"][data-points]', { timeout: 20_000 });
    expect(await page.locator("h1").textContent()).toBe(`${gpu.hostname} · GPU ${gpu.gpu_index} · MIG 9`);
    expect(await page.locator('dd[data-field="mig"]').textContent()).toContain("1g.10gb");
    expect(await page.locator('dd[data-field="pod"]').textContent()).toBe("inference/triton-7c9d8-abcde (server)");
    await screenshot("gpu-mig");
    await page.goto(`${pipeline.apiUrl}/`);
    const cell = page.locator(`.gpu-cell[data-uuid="${gpu.uuid}"]`);
    await cell.waitFor({ timeout: 20_000 });
    await cell.hover();
    const tooltip = page.locator(".tooltip table.mig-table");
    await tooltip.waitFor({ state: "visible", timeout: 5_000 });
    expect(await tooltip.textContent()).toContain("triton-7c9d8-abcde");
  }, 90_000);

  test("the live views change within 3 s of new data arriving", async () => {
    const { page } = browser;
    await pipeline.stack.scale("streamer", 0);
    await Bun.sleep(2_000);
    const [first] = (await fleet()).items;
    const gpu: Gpu = await getJson(`${pipeline.apiUrl}/api/v1/gpus/${first?.uuid}`);
    await page.goto(`${pipeline.apiUrl}/#/gpu/${gpu.uuid}?window=5m`);
    const chart = page.locator(`.chart[data-metric="${utilization}"]`);
    await chart.and(page.locator("[data-last-timestamp]")).waitFor({ timeout: 20_000 });
    const producedMs = await produceNow(gpu, utilization, 42);
    await page.waitForFunction(
      ([metric, atMs]) =>
        Number(document.querySelector(`.chart[data-metric="${metric}"]`)?.getAttribute("data-last-timestamp")) >=
        Number(atMs),
      [utilization, String(producedMs)] as const,
      { timeout: 3_000 },
    );
    expect(Date.now() - producedMs).toBeLessThan(3_000);

    await page.goto(`${pipeline.apiUrl}/`);
    const cell = page.locator(`.gpu-cell[data-uuid="${gpu.uuid}"]`);
    await cell.waitFor({ timeout: 20_000 });
    const before = await cell.evaluate(
      (element) => (element as unknown as { style: { background: string } }).style.background,
    );
    const changedMs = await produceNow(gpu, utilization, before.includes("253, 231, 37") ? 0 : 100);
    await page.waitForFunction(
      ([uuid, colour]) => document.querySelector(`.gpu-cell[data-uuid="${uuid}"]`)?.style.background !== colour,
      [gpu.uuid, before] as const,
      { timeout: 3_000 },
    );
    expect(Date.now() - changedMs).toBeLessThan(3_000);
  }, 90_000);

  test("the API's and the broker's Swagger UI list every operation, loaded from the process itself", async () => {
    const { page } = browser;
    for (const [name, url] of [
      ["swagger", pipeline.apiUrl],
      ["broker-swagger", pipeline.brokerUrl],
    ] as const) {
      const expected = await operationCount(`${url}/swagger/json`);
      await page.goto(`${url}/swagger`);
      await page.waitForSelector(".opblock", { timeout: 20_000 });
      expect({ name, operations: await page.locator(".opblock").count() }).toEqual({ name, operations: expected });
      await screenshot(name);
    }
  }, 60_000);

  test("no page logged an error and no request left 127.0.0.1", () => {
    expect(browser.errors).toEqual([]);
    expect(browser.outsideRequests).toEqual([]);
  });
});

describe("the dashboard of an API that keeps scope read closed", () => {
  test("asks for a token once (again when it is wrong); with it the grid and its live stream work, and a reload keeps it", async () => {
    const port = await freePort();
    const closedPlan = { ...pipeline.plan, apiPort: port, extraEnv: { api: { API_READ_OPEN: "false" } } };
    const closed = { ...apiSpec(closedPlan), name: "api-closed" };
    pipeline.supervisor.start(closed);
    const url = `http://127.0.0.1:${port}`;
    const closedBrowser = await openBrowser();
    try {
      await eventually("the closed API", async () => ((await fetch(`${url}/health`)).ok ? true : undefined), 30_000);
      expect((await fetch(`${url}/api/v1/fleet`)).status).toBe(401);
      const { page } = closedBrowser;
      await page.goto(`${url}/`);
      const prompt = page.locator("form.token-prompt");
      await prompt.waitFor({ timeout: 20_000 });
      await prompt.locator("input").fill("not-the-read-token-0123456789");
      await prompt.locator("button").click();
      await page.locator("form.token-prompt", { hasText: "not accepted" }).waitFor({ timeout: 10_000 });
      await prompt.locator("input").fill(pipeline.plan.secrets.tokens.apiRead);
      await prompt.locator("button").click();
      // The grid comes from the fleet event stream: the EventSource authenticated with the tab's cookie.
      await page.waitForSelector('.fleet-grid[data-gpu-count="247"]', { timeout: 20_000 });
      expect(await prompt.count()).toBe(0);
      await page.reload();
      await page.waitForSelector('.fleet-grid[data-gpu-count="247"]', { timeout: 20_000 });
      expect(await page.locator("form.token-prompt").count()).toBe(0);
      // The refused requests are the only errors the page saw.
      expect(closedBrowser.errors.filter((error) => !error.includes("401 (Unauthorized)"))).toEqual([]);
      expect(closedBrowser.outsideRequests).toEqual([]);
    } finally {
      await closedBrowser.close();
      await pipeline.supervisor.stop("api-closed");
    }
  }, 90_000);
});
