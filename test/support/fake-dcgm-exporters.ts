/**
 * dcgm-exporter endpoints for multi-process tests: each serves the real exporter text
 * of test/fixtures/dcgm-exporter-fleet-node.txt (a 4-GPU node with pods, two MIG
 * instances, an XID and thermal throttling) as its own node: the host name and the
 * GPU UUIDs carry the exporter's number, and DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION (a
 * counter) carries the scrape's sequence number, so a record says which scrape of
 * which exporter it came from. Every request is recorded with the scraper's
 * User-Agent, when it arrived and when it was answered (or abandoned).
 */
import type { Server } from "bun";

const fixturePath = new URL("../fixtures/dcgm-exporter-fleet-node.txt", import.meta.url).pathname;
export const fleetNodeFixture = await Bun.file(fixturePath).text();
/** The fixture's GPUs (UUID prefix as written in the file). */
const fixtureUuidPrefixes = ["GPU-3b9a1f0e", "GPU-8c4d2e1f", "GPU-1d5e3f20", "GPU-9e6f4031"];
const fixtureHost = "dgx-h100-12";
const energyMetric = "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION";

/** DCGM_FI_* samples in one scrape of one exporter. */
export const samplesPerScrape = fleetNodeFixture.split("\n").filter((line) => line.startsWith("DCGM_FI_")).length;

export interface ScrapeRequest {
  exporter: number;
  sequence: number;
  scraper: string;
  arrivedMs: number;
  /** When the answer was handed to the server, or the scraper went away; undefined while pending. */
  endedMs: number | undefined;
  /** The scraper went away before the answer was sent. */
  abandoned: boolean;
}

export interface FakeExporter {
  index: number;
  host: string;
  url: string;
  port: number;
  uuids: string[];
  server: Server<undefined>;
}

/** The text exporter `index` serves for scrape `sequence`. */
export function exporterText(index: number, sequence: number): string {
  let text = fleetNodeFixture.replaceAll(fixtureHost, nodeName(index));
  fixtureUuidPrefixes.forEach((prefix, gpu) => {
    text = text.replaceAll(prefix, uuidPrefix(index, gpu));
  });
  return text
    .split("\n")
    .map((line) => (line.startsWith(`${energyMetric}{`) ? line.replace(/ \S+$/, ` ${sequence}`) : line))
    .join("\n");
}

export function nodeName(index: number): string {
  return `dgx-h100-${String(index).padStart(3, "0")}`;
}

function uuidPrefix(index: number, gpu: number): string {
  return `GPU-${index.toString(16).padStart(6, "0")}${gpu.toString(16).padStart(2, "0")}`;
}

export class FakeExporterFleet {
  readonly exporters: FakeExporter[] = [];
  readonly requests: ScrapeRequest[] = [];
  private readonly sequences = new Map<number, number>();

  /** `answerDelayMs`: how long exporter `index` takes to answer, so overlapping scrapes would show. */
  constructor(private readonly answerDelayMs: (index: number) => number) {}

  start(count: number): FakeExporter[] {
    const started: FakeExporter[] = [];
    for (let offset = 0; offset < count; offset += 1) started.push(this.startOne(this.exporters.length));
    return started;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.exporters.map((exporter) => exporter.server.stop(true)));
  }

  private startOne(index: number): FakeExporter {
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (request) => this.answer(index, request),
    });
    const exporter: FakeExporter = {
      index,
      host: nodeName(index),
      url: `http://127.0.0.1:${server.port}/metrics`,
      port: server.port ?? 0,
      uuids: this.uuidsOf(index),
      server,
    };
    this.exporters.push(exporter);
    return exporter;
  }

  private uuidsOf(index: number): string[] {
    const uuids = new Set<string>();
    for (const match of exporterText(index, 0).matchAll(/UUID="([^"]+)"/g)) uuids.add(match[1] ?? "");
    return [...uuids];
  }

  private async answer(index: number, request: Request): Promise<Response> {
    const sequence = (this.sequences.get(index) ?? 0) + 1;
    this.sequences.set(index, sequence);
    const entry: ScrapeRequest = {
      exporter: index,
      sequence,
      scraper: request.headers.get("user-agent") ?? "",
      arrivedMs: performance.now(),
      endedMs: undefined,
      abandoned: false,
    };
    this.requests.push(entry);
    request.signal.addEventListener("abort", () => {
      if (entry.endedMs !== undefined) return;
      entry.abandoned = true;
      entry.endedMs = performance.now();
    });
    await Bun.sleep(this.answerDelayMs(index));
    if (entry.abandoned) return new Response("gone", { status: 499 });
    entry.endedMs = performance.now();
    return new Response(exporterText(index, sequence), { headers: { "content-type": "text/plain; version=0.0.4" } });
  }
}
