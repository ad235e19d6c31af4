/**
 * Datapoints as the streamers make them from real dcgm-exporter text: scrapes of the
 * fleet fixture (test/fixtures/dcgm-exporter-fleet-node.txt, one node per exporter
 * number) converted by the streamer's own sample converter, stamped at chosen times.
 * Counters grow from scrape to scrape (energy, throttling time, PCIe replays), so a
 * window's increase is positive; the rest are the fixture's values.
 */
import { sampleToPoint } from "../../services/streamer/sources/dcgm-exporter-source.ts";
import type { TelemetryPoint } from "../../src/domain/telemetry.ts";
import { parsePrometheusText } from "../../src/telemetry/prometheus-text.ts";
import { exporterText, nodeName } from "./fake-dcgm-exporters.ts";

const growing = new Set([
  "DCGM_FI_DEV_THERMAL_VIOLATION",
  "DCGM_FI_DEV_POWER_VIOLATION",
  "DCGM_FI_DEV_PCIE_REPLAY_COUNTER",
  "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL",
]);

/** Every datapoint of scrape `sequence` of node `node`, processed at `tsMs`. */
export function scrapePoints(node: number, sequence: number, tsMs: number): TelemetryPoint[] {
  const parsed = parsePrometheusText(exporterText(node, sequence), {
    namePrefix: "DCGM_FI_",
    samplesMax: 10_000,
    errorsKeptMax: 10,
  });
  if (parsed.errorCount > 0) throw new Error(`fixture does not parse: ${JSON.stringify(parsed.errors)}`);
  const points: TelemetryPoint[] = [];
  for (const sample of parsed.samples) {
    const result = sampleToPoint(sample, { host: nodeName(node), instance: `${nodeName(node)}:9400`, scrapeMs: tsMs });
    if (!result.ok) throw new Error(`fixture sample rejected: ${result.reason}`);
    const point = { ...result.point, ts: tsMs };
    if (growing.has(point.metric)) point.value = point.value * (1 + sequence / 10);
    points.push(point);
  }
  return points;
}

/** `scrapes` scrapes of each of `nodes` nodes, `stepMs` apart, the last at `lastMs`. */
export function fleetPoints(options: {
  nodes: number;
  scrapes: number;
  stepMs: number;
  lastMs: number;
}): TelemetryPoint[] {
  const points: TelemetryPoint[] = [];
  for (let node = 0; node < options.nodes; node += 1) {
    for (let scrape = 0; scrape < options.scrapes; scrape += 1) {
      const tsMs = options.lastMs - (options.scrapes - 1 - scrape) * options.stepMs;
      points.push(...scrapePoints(node, scrape + 1, tsMs));
    }
  }
  return points;
}
