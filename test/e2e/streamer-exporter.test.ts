/**
 * The live source through the same produce path: a real streamer process scrapes a
 * local HTTP server serving captured dcgm-exporter output (and a target that is
 * down), and produces every DCGM_FI_* sample keyed by GPU UUID.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Server } from "bun";
import { decodeTelemetryRecord } from "../../src/telemetry/record-codec.ts";
import { startStreamer, waitUntil } from "../services/streamer/streamer-process.ts";
import { readTopic } from "../services/streamer/topic-records.ts";
import { type BrokerProcess, startBroker } from "../support/broker-process.ts";
import { freePort } from "../support/free-port.ts";
import { metricValue } from "../support/prometheus.ts";

const fixturePath = new URL("../fixtures/dcgm-exporter-metrics.txt", import.meta.url).pathname;
const fixture = await Bun.file(fixturePath).text();
const samplesPerScrape = 48;
const uuids = ["GPU-5fd4f087-86f3-7a43-b711-4771313afc50", "GPU-bc7a12ab-4998-fdc5-0785-2678a929a142"];

let broker: BrokerProcess;
let exporter: Server<undefined>;

beforeAll(async () => {
  broker = await startBroker();
  exporter = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: () => new Response(fixture, { headers: { "content-type": "text/plain; version=0.0.4" } }),
  });
});
afterAll(async () => {
  await exporter?.stop(true);
  await broker?.stop();
});

test("scrapes dcgm-exporter endpoints and produces each sample as a datapoint", async () => {
  const downPort = await freePort();
  const startedMs = Date.now();
  const streamer = await startStreamer({
    brokerUrl: broker.url,
    env: {
      STREAMER_SOURCE: "dcgm-exporter",
      STREAMER_EXPORTER_URLS: `http://127.0.0.1:${exporter.port}/metrics, http://127.0.0.1:${downPort}/metrics`,
      STREAMER_SCRAPE_INTERVAL_MS: "200",
      STREAMER_SCRAPE_TIMEOUT_MS: "1000",
      STREAMER_TOPIC: "live",
      STREAMER_GROUP: "live",
    },
  });
  let produced = 0;
  await waitUntil(
    async () => {
      produced =
        metricValue(await (await fetch(`${streamer.url}/metrics`)).text(), "streamer_rows_produced_total") ?? 0;
      return produced >= samplesPerScrape * 3;
    },
    () => `produced ${produced}`,
  );
  const page = await (await fetch(`${streamer.url}/metrics`)).text();
  expect(await streamer.stop()).toBe(0);
  const endedMs = Date.now();
  expect(metricValue(page, "streamer_scrape_failures_total")).toBeGreaterThan(0);
  expect(streamer.entries().some((entry) => entry.msg === "scrape failed")).toBe(true);

  const records = await readTopic(broker.url, "live");
  expect(records.length % samplesPerScrape).toBe(0);
  expect(records.length).toBeGreaterThanOrEqual(samplesPerScrape * 3);
  for (const record of records) {
    const decoded = decodeTelemetryRecord(record.value);
    if (!decoded.ok) throw new Error(`${decoded.reason}: ${decoded.detail}`);
    expect(record.key).toBe(decoded.point.uuid);
    expect(uuids).toContain(decoded.point.uuid);
    expect(decoded.point.metric.startsWith("DCGM_FI_")).toBe(true);
    expect(decoded.point.hostname).toBe("mtv5-dgx1-hgpu-031");
    expect(decoded.point.ts).toBeGreaterThanOrEqual(startedMs);
    expect(decoded.point.ts).toBeLessThanOrEqual(endedMs);
  }
}, 30_000);
