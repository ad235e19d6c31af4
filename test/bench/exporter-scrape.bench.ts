/**
 * One streamer process scraping dcgm-exporters: `exporterCounts` local exporters (each
 * the 4-GPU node of test/fixtures/dcgm-exporter-fleet-node.txt, 103 samples a scrape,
 * answering after 5 ms) every second, into a real broker process. The exporters run in
 * this process, so they share the machine with the streamer and the broker.
 *
 * - samples/s: streamer_rows_produced_total over the measurement window, against the
 *   exporters × samples a second that a full scrape every second gives;
 * - streamer CPU: process_cpu_seconds_total of the streamer over the window, in cores;
 * - overruns: scrapes skipped because the exporter's previous one had not finished.
 *
 *   bun run bench:exporters            (BENCH_SHORT=1 for a quick run)
 */
import { startStreamer } from "../services/streamer/streamer-process.ts";
import { startBroker } from "../support/broker-process.ts";
import { FakeExporterFleet, samplesPerScrape } from "../support/fake-dcgm-exporters.ts";
import { metricValue } from "../support/prometheus.ts";

const short = process.env.BENCH_SHORT === "1";
const exporterCounts = short ? [50] : [200, 1_000];
const warmupMs = short ? 3_000 : 5_000;
const measureMs = short ? 5_000 : 20_000;

interface Figures {
  exporters: number;
  samples_per_s: number;
  expected_per_s: number;
  streamer_cores: number;
  overruns: number;
  failures: number;
  streamer_rss_mib: number;
}

async function measure(exporters: number): Promise<Figures> {
  const broker = await startBroker();
  const fleet = new FakeExporterFleet(() => 5);
  const urls = fleet.start(exporters).map((exporter) => exporter.url);
  const streamer = await startStreamer({
    brokerUrl: broker.url,
    env: {
      STREAMER_SOURCE: "dcgm-exporter",
      STREAMER_EXPORTER_URLS: urls.join(","),
      STREAMER_SCRAPE_INTERVAL_MS: "1000",
      STREAMER_TOPIC: "bench-exporters",
      STREAMER_GROUP: "bench-exporters",
    },
  });
  try {
    await streamer.waitForLog('"msg":"streaming"');
    await Bun.sleep(warmupMs);
    const read = async () => {
      const page = await (await fetch(`${streamer.url}/metrics`)).text();
      const value = (name: string) => metricValue(page, name) ?? 0;
      return {
        cpu: value("process_cpu_seconds_total"),
        produced: value("streamer_rows_produced_total"),
        overruns: value("streamer_scrape_overruns_total"),
        failures: value("streamer_scrape_failures_total"),
        rss: value("process_resident_memory_bytes"),
      };
    };
    const before = await read();
    const started = performance.now();
    await Bun.sleep(measureMs);
    const after = await read();
    const seconds = (performance.now() - started) / 1000;
    return {
      exporters,
      samples_per_s: Math.round((after.produced - before.produced) / seconds),
      expected_per_s: exporters * samplesPerScrape,
      streamer_cores: Number(((after.cpu - before.cpu) / seconds).toFixed(3)),
      overruns: after.overruns - before.overruns,
      failures: after.failures - before.failures,
      streamer_rss_mib: Math.round(after.rss / (1024 * 1024)),
    };
  } finally {
    await streamer.stop();
    await fleet.stopAll();
    await broker.stop();
  }
}

const results: Figures[] = [];
for (const count of exporterCounts) {
  const figures = await measure(count);
  results.push(figures);
  console.log(
    `${count} exporters every 1 s: ${figures.samples_per_s} samples/s of ${figures.expected_per_s}, ` +
      `streamer ${figures.streamer_cores} cores, ${figures.overruns} overruns, ${figures.failures} failures, ` +
      `RSS ${figures.streamer_rss_mib} MiB`,
  );
}
console.log(JSON.stringify({ bench: "exporters", short, results }));
