/**
 * Our Prometheus naming rules, checked against what a process really serves at
 * /metrics: a counter ends in `_total`; every other metric ends in its unit, plural
 * (Prometheus' conventions: https://prometheus.io/docs/practices/naming/); no series
 * carries `service` or `instance` (Prometheus sets those on the target and would rename
 * ours `exported_*`), every series carries `pipeline_service` and `pipeline_instance`.
 */

/** The units a gauge's or histogram's name may end in. */
export const metricUnits = [
  "seconds",
  "bytes",
  "records",
  "rows",
  "offset",
  "partitions",
  "gpus",
  "targets",
  "queries",
  "requests",
  "streams",
  "celsius",
  "ratio",
] as const;

export const forbiddenLabels = ["service", "instance"] as const;
export const requiredLabels = ["pipeline_service", "pipeline_instance"] as const;

export interface MetricFamily {
  name: string;
  type: string;
  /** Label names seen on its samples. */
  labels: Set<string>;
  samples: number;
}

const typeLine = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)$/;
const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? \S+$/;
const sampleSuffixes = ["_bucket", "_sum", "_count"];

/** The families of a text exposition, with the label names of their samples. */
export function metricFamilies(text: string): MetricFamily[] {
  const families = new Map<string, MetricFamily>();
  for (const line of text.split("\n")) {
    const declared = typeLine.exec(line);
    if (declared !== null) {
      const [, name, type] = declared as unknown as [string, string, string];
      families.set(name, { name, type, labels: new Set(), samples: 0 });
      continue;
    }
    const sample = sampleLine.exec(line);
    if (sample === null) continue;
    const family = familyOf(families, sample[1] as string);
    if (family === undefined) throw new Error(`sample without a # TYPE line: ${line}`);
    family.samples += 1;
    for (const [, label] of (sample[3] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g))
      family.labels.add(label as string);
  }
  return [...families.values()];
}

function familyOf(families: ReadonlyMap<string, MetricFamily>, sampleName: string): MetricFamily | undefined {
  const exact = families.get(sampleName);
  if (exact !== undefined) return exact;
  const suffix = sampleSuffixes.find((candidate) => sampleName.endsWith(candidate));
  return suffix === undefined ? undefined : families.get(sampleName.slice(0, -suffix.length));
}

/** What breaks the rules, one line per problem (empty: all is well). */
export function metricNameProblems(families: readonly MetricFamily[]): string[] {
  const problems: string[] = [];
  for (const family of families) {
    const { name, type } = family;
    if (type === "counter" && !name.endsWith("_total")) problems.push(`${name}: a counter must end in _total`);
    if (type !== "counter" && name.endsWith("_total")) problems.push(`${name}: only a counter ends in _total`);
    const unit = name.split("_").at(-1) as string;
    if (type !== "counter" && !(metricUnits as readonly string[]).includes(unit))
      problems.push(`${name}: a ${type} must end in a unit (${metricUnits.join(", ")})`);
    for (const label of forbiddenLabels)
      if (family.labels.has(label)) problems.push(`${name}: label "${label}" clashes with Prometheus' target labels`);
    for (const label of requiredLabels)
      if (family.samples > 0 && !family.labels.has(label)) problems.push(`${name}: no "${label}" label`);
  }
  return problems;
}

/** Metric names a PromQL expression reads (`rate(x_bucket[5m])` reads x's samples), our prefixes only. */
export function promqlMetricNames(expression: string): string[] {
  const names = new Set<string>();
  for (const [name] of expression.matchAll(
    /\b(broker|streamer|collector|api|clickhouse_embedded|http|process|telemetry)_[a-z0-9_]+/g,
  ))
    names.add(name);
  return [...names];
}

/** Whether `name` (a family, or a histogram's _bucket/_sum/_count) is among `families`. */
export function isServed(name: string, families: ReadonlySet<string>): boolean {
  if (families.has(name)) return true;
  const suffix = sampleSuffixes.find((candidate) => name.endsWith(candidate));
  return suffix !== undefined && families.has(name.slice(0, -suffix.length));
}
