import { labelCountMax, textLengthMax } from "../domain/telemetry.ts";

/**
 * Prometheus label lists: `k="v",k2="v2"` as in dcgm-exporter's exposition and the
 * CSV's `labels_raw`. Values may hold commas and the escapes `\"`, `\\` and `\n`.
 * One scanner serves both the bare list (CSV) and the `{...}` block (text format),
 * so the two sources cannot disagree on what a label is.
 */

export type Labels = Record<string, string>;

export type LabelScan = { ok: true; labels: Labels; endIndex: number } | { ok: false; error: string; index: number };

/** Labels that TelemetryPoint carries as columns; they are not repeated in `labels`. */
export const columnLabelNames: ReadonlySet<string> = new Set([
  "Hostname",
  "UUID",
  "__name__",
  "device",
  "gpu",
  "modelName",
  "container",
  "pod",
  "namespace",
]);

const charQuote = 34;
const charBackslash = 92;
const charComma = 44;
const charEquals = 61;
const charSpace = 32;
const charTab = 9;

/**
 * Scans labels from `startIndex` until `stopChar` (exclusive; `undefined` means the
 * end of the text). Returns where the scan stopped: the index of `stopChar`, or
 * `text.length`. Never throws on malformed input.
 */
export function scanLabels(text: string, startIndex: number, stopChar: string | undefined): LabelScan {
  const stopCode = stopChar === undefined ? -1 : stopChar.charCodeAt(0);
  const labels: Labels = Object.create(null) as Labels;
  // Where the next backslash is, found once: most label lists have none, and looking
  // again for every value would rescan the rest of the text each time.
  const escapes = { nextBackslash: text.indexOf("\\", startIndex) };
  let count = 0;
  let index = skipBlank(text, startIndex);
  for (let loops = 0; loops <= labelCountMax; loops += 1) {
    if (index >= text.length) {
      if (stopCode === -1) return { ok: true, labels, endIndex: index };
      return { ok: false, error: `missing '${stopChar}'`, index };
    }
    if (text.charCodeAt(index) === stopCode) return { ok: true, labels, endIndex: index };
    if (count === labelCountMax) return { ok: false, error: `more than labelCountMax ${labelCountMax} labels`, index };
    const pair = scanPair(text, index, escapes);
    if (!pair.ok) return pair;
    if (pair.name in labels) return { ok: false, error: `duplicate label ${pair.name}`, index };
    labels[pair.name] = pair.value;
    count += 1;
    index = skipBlank(text, pair.endIndex);
    if (index < text.length && text.charCodeAt(index) === charComma) index = skipBlank(text, index + 1);
    else if (index < text.length && text.charCodeAt(index) !== stopCode) {
      return { ok: false, error: `expected ',' after label ${pair.name}`, index };
    }
  }
  return { ok: false, error: `more than labelCountMax ${labelCountMax} labels`, index };
}

/** Parses a whole bare label list (the CSV's `labels_raw`). An empty string is no labels. */
export function parseLabelList(text: string): LabelScan {
  return scanLabels(text, 0, undefined);
}

/** The labels that are not already columns of TelemetryPoint, in a fresh record. */
export function extraLabels(labels: Labels): Labels {
  const extra: Labels = Object.create(null) as Labels;
  for (const name in labels) {
    if (!columnLabelNames.has(name)) extra[name] = labels[name] as string;
  }
  return extra;
}

type PairScan =
  | { ok: true; name: string; value: string; endIndex: number }
  | { ok: false; error: string; index: number };

interface EscapeState {
  nextBackslash: number;
}

function scanPair(text: string, startIndex: number, escapes: EscapeState): PairScan {
  let index = startIndex;
  while (index < text.length && isNameChar(text.charCodeAt(index), index === startIndex)) index += 1;
  if (index === startIndex) return { ok: false, error: "expected a label name", index };
  const name = text.slice(startIndex, index);
  index = skipBlank(text, index);
  if (text.charCodeAt(index) !== charEquals) return { ok: false, error: `expected '=' after ${name}`, index };
  index = skipBlank(text, index + 1);
  if (text.charCodeAt(index) !== charQuote) return { ok: false, error: `expected '"' to open ${name}'s value`, index };
  const value = scanQuotedValue(text, index + 1, escapes);
  if (!value.ok) return value;
  if (value.value.length > textLengthMax) {
    return { ok: false, error: `value of ${name} longer than textLengthMax ${textLengthMax}`, index };
  }
  return { ok: true, name, value: value.value, endIndex: value.endIndex };
}

type ValueScan = { ok: true; value: string; endIndex: number } | { ok: false; error: string; index: number };

/** Scans from just after the opening quote; `endIndex` is just after the closing quote. */
function scanQuotedValue(text: string, startIndex: number, escapes: EscapeState): ValueScan {
  const close = text.indexOf('"', startIndex);
  if (close === -1) return { ok: false, error: "unterminated label value", index: startIndex };
  const backslash = escapes.nextBackslash;
  // Most values have no escapes: one slice, no per-character loop.
  if (backslash === -1 || backslash > close)
    return { ok: true, value: text.slice(startIndex, close), endIndex: close + 1 };
  const scan = scanEscapedValue(text, startIndex);
  if (scan.ok) escapes.nextBackslash = text.indexOf("\\", scan.endIndex);
  return scan;
}

function scanEscapedValue(text: string, startIndex: number): ValueScan {
  let value = "";
  let runStart = startIndex;
  for (let index = startIndex; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (code === charQuote) return { ok: true, value: value + text.slice(runStart, index), endIndex: index + 1 };
    if (code !== charBackslash) continue;
    const escaped = unescapeChar(text.charCodeAt(index + 1));
    if (escaped === undefined) return { ok: false, error: "invalid escape in label value", index };
    value += text.slice(runStart, index) + escaped;
    index += 1;
    runStart = index + 1;
  }
  return { ok: false, error: "unterminated label value", index: startIndex };
}

function unescapeChar(code: number): string | undefined {
  if (code === charQuote) return '"';
  if (code === charBackslash) return "\\";
  if (code === 110) return "\n";
  return undefined;
}

function isNameChar(code: number, first: boolean): boolean {
  if ((code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95) return true;
  return !first && code >= 48 && code <= 57;
}

function skipBlank(text: string, startIndex: number): number {
  let index = startIndex;
  while (index < text.length && (text.charCodeAt(index) === charSpace || text.charCodeAt(index) === charTab))
    index += 1;
  return index;
}
