import type { ProcessStatus } from "./process-supervisor.ts";
import { fetchText, sumSeries } from "./prometheus-scrape.ts";

export interface StackFigures {
  producedRowsPerS: number;
  insertedRowsPerS: number;
  collectorLagRecords: number;
  deadLetters: number;
  health: Record<string, boolean>;
}

interface Totals {
  atMs: number;
  produced: number;
  inserted: number;
}

const scrapeTimeoutMs = 800;

/** Polls every process's /health and /metrics and turns counters into rates. */
export class StackObserver {
  private previous: Totals | undefined;

  async observe(processes: ProcessStatus[], brokerPort: number): Promise<StackFigures> {
    const pages = await Promise.all(processes.map((p) => this.scrape(p)));
    const health: Record<string, boolean> = {};
    let produced = 0;
    let inserted = 0;
    let deadLetters = 0;
    processes.forEach((process, index) => {
      const page = pages[index];
      health[process.name] = page !== undefined && process.state === "running";
      if (page === undefined) return;
      produced += sumSeries(page, "streamer_rows_produced_total");
      inserted += sumSeries(page, "collector_rows_inserted_total");
      deadLetters += sumSeries(page, "collector_dead_letters_total");
    });
    const brokerPage = await fetchText(`http://127.0.0.1:${brokerPort}/metrics`, scrapeTimeoutMs);
    const collectorLagRecords =
      brokerPage === undefined ? 0 : sumSeries(brokerPage, "broker_group_lag_records", 'group="collectors"');
    const now: Totals = { atMs: performance.now(), produced, inserted };
    const rates = this.rates(now);
    this.previous = now;
    return { ...rates, collectorLagRecords, deadLetters, health };
  }

  private rates(now: Totals): { producedRowsPerS: number; insertedRowsPerS: number } {
    const before = this.previous;
    if (before === undefined) return { producedRowsPerS: 0, insertedRowsPerS: 0 };
    const seconds = Math.max((now.atMs - before.atMs) / 1_000, 0.001);
    // A restarted process resets its counters; never show a negative rate.
    return {
      producedRowsPerS: Math.max(0, (now.produced - before.produced) / seconds),
      insertedRowsPerS: Math.max(0, (now.inserted - before.inserted) / seconds),
    };
  }

  private async scrape(process: ProcessStatus): Promise<string | undefined> {
    const base = `http://127.0.0.1:${process.httpPort}`;
    if (process.kind === "clickhouse") {
      const ping = await fetchText(`${base}/ping`, scrapeTimeoutMs);
      return ping === undefined ? undefined : "";
    }
    return await fetchText(`${base}/metrics`, scrapeTimeoutMs);
  }
}

const compact = new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 1 });

/** One line: rates, lag, dead letters and a mark per process (● up, ○ down). */
export function renderStatusLine(figures: StackFigures, processes: ProcessStatus[]): string {
  const marks = processes
    .map((p) => `${figures.health[p.name] === true ? "●" : "○"}${p.name}${p.restarts > 0 ? `(↻${p.restarts})` : ""}`)
    .join(" ");
  return [
    `produced ${compact.format(figures.producedRowsPerS)}/s`,
    `inserted ${compact.format(figures.insertedRowsPerS)}/s`,
    `lag ${compact.format(figures.collectorLagRecords)}`,
    `dlq ${compact.format(figures.deadLetters)}`,
    marks,
  ].join(" │ ");
}
