/**
 * `bun run chaos`: the real processes of the dev stack under steady load while faults
 * are injected at random moments (kill -9 of the broker, collectors and streamers;
 * ClickHouse frozen and killed; the broker's disk filled where a tmpfs can be mounted;
 * the collectors' offsets rewound), then a reconciliation of what was acknowledged, what
 * the topic holds and what ClickHouse holds. Prints a table and one JSON line.
 *
 *   bun run chaos                     full mode: faults for CHAOS_SECONDS (default 360), one every 1-4 s
 *   bun run chaos -- --short          short mode: each kind twice, one every 2-5 s (what CI runs)
 *   CHAOS_SEED=7 CHAOS_PORT_BASE=25000 bun run chaos
 */
import { type ChaosOptions, type ChaosReport, runChaos } from "./chaos-run.ts";

export function chaosOptions(short: boolean, log: (line: string) => void): ChaosOptions {
  const env = process.env;
  const portBase = env.CHAOS_PORT_BASE === undefined ? undefined : Number(env.CHAOS_PORT_BASE);
  return {
    mode: short ? "short" : "full",
    faultPhaseMs: Number(env.CHAOS_SECONDS ?? 360) * 1_000,
    faultsPerKind: Number(env.CHAOS_FAULTS_PER_KIND ?? 2),
    gapMsMin: short ? 2_000 : 1_000,
    gapMsMax: short ? 5_000 : 4_000,
    streamers: Number(env.CHAOS_STREAMERS ?? 3),
    collectors: Number(env.CHAOS_COLLECTORS ?? 2),
    rateRowsPerS: Number(env.CHAOS_RATE ?? 3_000),
    loadRowsPerS: Number(env.CHAOS_LOAD_RATE ?? 300),
    seed: Number(env.CHAOS_SEED ?? Date.now() % 1_000_000),
    ...(portBase === undefined ? {} : { portBase }),
    ...(env.CHAOS_DATA_DIR === undefined ? {} : { dataDir: env.CHAOS_DATA_DIR, keepData: true }),
    log,
  };
}

export function renderReport(report: ChaosReport, seed: number): string {
  const rows: [string, string | number][] = [
    ["mode", `${report.mode} (seed ${seed}, ${report.seconds} s)`],
    ["faults injected", report.faults],
    ...Object.entries(report.faultCounts).map(([name, count]): [string, number] => [`  ${name}`, count]),
    ["fault errors", report.faultErrors.length === 0 ? 0 : report.faultErrors.join("; ")],
    ["disk fill possible", report.diskLimited ? "yes (tmpfs)" : "no (cannot mount a tmpfs)"],
    ["records acknowledged (load)", report.acked],
    ["records in the topic", report.stored],
    ["rows in ClickHouse", report.rows],
    ["dead letters", report.deadLetters],
    ["lost", report.lost],
    ["duplicated (source offset)", report.duplicated],
    ["duplicated (GPU, metric, ts)", report.contentDuplicates],
    ["re-sent by streamers", report.resent],
    [`longest gap per GPU metric (a pass: ${report.passMs} ms)`, `${report.maxGapMs} ms (${report.maxGapAt})`],
    ["longest a streamer was behind schedule", `${report.maxLagMs} ms`],
    ["log lines that are not JSON", report.nonJsonLines],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows.map(([name, value]) => `${name.padEnd(width)}  ${value}`).join("\n");
}

export function reportLine(report: ChaosReport): string {
  return JSON.stringify({
    bench: "chaos",
    mode: report.mode,
    seconds: report.seconds,
    faults: report.faults,
    fault_counts: report.faultCounts,
    acked: report.acked,
    stored: report.stored,
    rows: report.rows,
    lost: report.lost,
    duplicated: report.duplicated,
    content_duplicates: report.contentDuplicates,
    resent: report.resent,
    max_gap_ms: report.maxGapMs,
    pass_ms: report.passMs,
    max_lag_ms: report.maxLagMs,
    dead_letters: report.deadLetters,
    non_json_lines: report.nonJsonLines,
    disk_fill: report.diskLimited,
  });
}

if (import.meta.main) {
  const options = chaosOptions(process.argv.includes("--short"), (line) => console.log(line));
  const report = await runChaos(options);
  console.log(renderReport(report, options.seed));
  console.log(reportLine(report));
  const clean = report.lost === 0 && report.duplicated === 0 && report.resent === 0 && report.nonJsonLines === 0;
  process.exit(clean ? 0 : 1);
}
