import { type Labels, scanLabels } from "./labels.ts";

/**
 * The Prometheus text exposition format (version 0.0.4), as dcgm-exporter serves it:
 * `# HELP` / `# TYPE` / other comments, blank lines, and samples
 * `name{label="value",...} value [timestamp_ms]`. Values may be NaN and ±Inf; the
 * caller decides what to do with them.
 */

export interface PrometheusSample {
  name: string;
  labels: Labels;
  value: number;
  /** The sample's own timestamp (ms since epoch), when the exporter wrote one. */
  timestampMs: number | undefined;
}

export interface PrometheusParseError {
  /** 1-based line in the exposition. */
  line: number;
  error: string;
}

export interface PrometheusParseOptions {
  /** Only samples whose metric name starts with this are parsed further (labels are the costly part). */
  namePrefix: string;
  /** Samples kept at most; more is an error and the rest of the text is not read. */
  samplesMax: number;
  /** Parse errors kept at most (all are counted). */
  errorsKeptMax: number;
}

export interface PrometheusParseResult {
  samples: PrometheusSample[];
  errors: PrometheusParseError[];
  errorCount: number;
  /** Samples of other metrics, skipped by name. */
  samplesSkipped: number;
  /** True when samplesMax stopped the parse early. */
  truncated: boolean;
}

type SampleScan = { ok: true; sample: PrometheusSample } | { ok: false; error: string } | { ok: "skipped" };

export function parsePrometheusText(text: string, options: PrometheusParseOptions): PrometheusParseResult {
  const result: PrometheusParseResult = { samples: [], errors: [], errorCount: 0, samplesSkipped: 0, truncated: false };
  let lineStart = 0;
  // One line per iteration; the text's length bounds the loop.
  for (let line = 1; lineStart < text.length; line += 1) {
    const newline = text.indexOf("\n", lineStart);
    const lineEnd = newline === -1 ? text.length : newline;
    const content = text.slice(lineStart, text.charCodeAt(lineEnd - 1) === 13 ? lineEnd - 1 : lineEnd);
    lineStart = lineEnd + 1;
    const trimmed = content.trimStart();
    if (trimmed.length === 0 || trimmed.startsWith("#")) continue;
    const scan = scanSample(trimmed, options.namePrefix);
    if (scan.ok === "skipped") {
      result.samplesSkipped += 1;
    } else if (scan.ok) {
      if (result.samples.length === options.samplesMax) {
        recordError(result, options, { line, error: `more than samplesMax ${options.samplesMax} samples` });
        result.truncated = true;
        return result;
      }
      result.samples.push(scan.sample);
    } else {
      recordError(result, options, { line, error: scan.error });
    }
  }
  return result;
}

function recordError(
  result: PrometheusParseResult,
  options: PrometheusParseOptions,
  error: PrometheusParseError,
): void {
  result.errorCount += 1;
  if (result.errors.length < options.errorsKeptMax) result.errors.push(error);
}

function scanSample(line: string, namePrefix: string): SampleScan {
  let index = 0;
  while (index < line.length && isMetricNameChar(line.charCodeAt(index), index === 0)) index += 1;
  if (index === 0) return { ok: false, error: "expected a metric name" };
  const name = line.slice(0, index);
  if (!name.startsWith(namePrefix)) return { ok: "skipped" };
  let labels: Labels = Object.create(null) as Labels;
  if (line.charCodeAt(index) === 123) {
    const scan = scanLabels(line, index + 1, "}");
    if (!scan.ok) return { ok: false, error: `${name}: ${scan.error} at character ${scan.index + 1}` };
    labels = scan.labels;
    index = scan.endIndex + 1;
  }
  const tokens = line
    .slice(index)
    .trim()
    .split(/[ \t]+/);
  if (tokens.length > 2 || tokens[0] === undefined || tokens[0] === "") {
    return { ok: false, error: `${name}: expected "value [timestamp]" after the labels` };
  }
  const value = parseSampleValue(tokens[0]);
  if (value === undefined) return { ok: false, error: `${name}: value "${tokens[0].slice(0, 40)}" is not a number` };
  const timestampMs = tokens[1] === undefined ? undefined : parseTimestamp(tokens[1]);
  if (timestampMs === null)
    return { ok: false, error: `${name}: timestamp "${tokens[1]?.slice(0, 40)}" is not integer ms` };
  return { ok: true, sample: { name, labels, value, timestampMs } };
}

const decimalPattern = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A sample value: decimal, or NaN / ±Inf as Go's ParseFloat spells them. */
export function parseSampleValue(token: string): number | undefined {
  if (decimalPattern.test(token)) return Number(token);
  const lower = token.toLowerCase();
  if (lower === "nan") return Number.NaN;
  if (lower === "+inf" || lower === "inf" || lower === "+infinity" || lower === "infinity")
    return Number.POSITIVE_INFINITY;
  if (lower === "-inf" || lower === "-infinity") return Number.NEGATIVE_INFINITY;
  return undefined;
}

const timestampPattern = /^-?\d{1,16}$/;

function parseTimestamp(token: string): number | null {
  return timestampPattern.test(token) ? Number(token) : null;
}

function isMetricNameChar(code: number, first: boolean): boolean {
  if ((code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95 || code === 58) return true;
  return !first && code >= 48 && code <= 57;
}
