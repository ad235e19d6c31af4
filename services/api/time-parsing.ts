/**
 * RFC 3339 timestamps for query bounds. Storage keeps milliseconds, so a bound
 * with finer digits is rounded in the direction that keeps it inclusive: a start
 * rounds up, an end rounds down (a point at 12.000 is not inside [12.0005, ...]).
 */

const rfc3339Pattern =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** The earliest and latest instants we accept: year 1970 to 2299 (ClickHouse DateTime64 range). */
export const epochMsMin = 0;
export const epochMsMax = Date.UTC(2299, 11, 31, 23, 59, 59, 999);

export type Rounding = "up" | "down";

export type ParsedTime = { ok: true; epochMs: number } | { ok: false; problem: string };

const example = "e.g. 2025-07-18T20:42:34Z or 2025-07-18T22:42:34.5+02:00";

export function parseRfc3339(text: string, rounding: Rounding): ParsedTime {
  const match = rfc3339Pattern.exec(text);
  if (match === null) return { ok: false, problem: `not an RFC 3339 timestamp (${example})` };
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const fraction = match[7] ?? "";
  const fieldProblem = checkFields({ year, month, day, hour, minute, second });
  if (fieldProblem !== undefined) return { ok: false, problem: `${fieldProblem} (${example})` };
  const offsetMinutes = parseOffsetMinutes(match[9], match[10], match[11]);
  if (offsetMinutes === undefined) return { ok: false, problem: `offset out of range (${example})` };
  const wholeMs = utcMs({ year, month, day, hour, minute, second }) - offsetMinutes * 60_000;
  const epochMs = wholeMs + fractionMs(fraction, rounding);
  if (epochMs < epochMsMin || epochMs > epochMsMax) {
    return { ok: false, problem: "outside the supported range 1970-01-01T00:00:00Z .. 2299-12-31T23:59:59.999Z" };
  }
  return { ok: true, epochMs };
}

function checkFields(fields: {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}): string | undefined {
  if (fields.month < 1 || fields.month > 12) return `month ${fields.month} does not exist`;
  const daysInMonth = new Date(utcMs({ ...fields, month: fields.month + 1, day: 0 })).getUTCDate();
  if (fields.day < 1 || fields.day > daysInMonth) return `day ${fields.day} does not exist in that month`;
  if (fields.hour > 23) return `hour ${fields.hour} is out of range`;
  if (fields.minute > 59) return `minute ${fields.minute} is out of range`;
  // A leap second (:60) cannot be stored; asking for one is almost always a typo.
  if (fields.second > 59) return `second ${fields.second} is out of range`;
  return undefined;
}

/**
 * Date.UTC with the year taken literally: Date.UTC maps years 0–99 to 1900–1999, which
 * read `0099-06-01` as 1999. setUTCFullYear does not.
 */
function utcMs(fields: { year: number; month: number; day: number; hour: number; minute: number; second: number }) {
  const date = new Date(Date.UTC(2000, fields.month - 1, fields.day, fields.hour, fields.minute, fields.second));
  date.setUTCFullYear(fields.year, fields.month - 1, fields.day);
  return date.getTime();
}

function parseOffsetMinutes(sign?: string, hours?: string, minutes?: string): number | undefined {
  if (sign === undefined || hours === undefined || minutes === undefined) return 0;
  const hoursValue = Number(hours);
  const minutesValue = Number(minutes);
  if (hoursValue > 23 || minutesValue > 59) return undefined;
  const total = hoursValue * 60 + minutesValue;
  return sign === "-" ? -total : total;
}

/** Milliseconds of a fraction of a second, rounded up or down past the third digit. */
function fractionMs(fraction: string, rounding: Rounding): number {
  if (fraction === "") return 0;
  const millis = Number(fraction.slice(0, 3).padEnd(3, "0"));
  const finer = fraction.slice(3);
  const hasFiner = finer !== "" && /[1-9]/.test(finer);
  return rounding === "up" && hasFiner ? millis + 1 : millis;
}

const epochMsPattern = /^\d{1,16}$/;

/**
 * A time parameter: RFC 3339, or integer milliseconds since the epoch (what Grafana's
 * `${__from}` and `${__to}` give). Milliseconds are the finest step either way.
 */
export function parseTimeParameter(text: string, rounding: Rounding): ParsedTime {
  if (!epochMsPattern.test(text)) {
    const parsed = parseRfc3339(text, rounding);
    if (parsed.ok) return parsed;
    if (!/^[+-]?\d+(\.\d*)?$/.test(text)) {
      if (!parsed.problem.startsWith("not an RFC 3339")) return parsed;
      return {
        ok: false,
        problem: `neither RFC 3339 (${example}) nor integer epoch milliseconds (e.g. 1752871354000)`,
      };
    }
    return { ok: false, problem: "not integer epoch milliseconds (digits only, e.g. 1752871354000) nor RFC 3339" };
  }
  const epochMs = Number(text);
  if (epochMs < epochMsMin || epochMs > epochMsMax) {
    return { ok: false, problem: `epoch milliseconds outside the supported range ${epochMsMin}..${epochMsMax}` };
  }
  return { ok: true, epochMs };
}

/** The OpenAPI text of a time parameter. */
export function timeParameterDescription(which: string): string {
  return (
    `${which}, inclusive: RFC 3339 with any offset and optional fraction ` +
    "(e.g. 2025-07-18T20:42:34Z, 2025-07-18T22:42:34.5+02:00) or integer epoch milliseconds " +
    `(e.g. 1752871354000, as Grafana's \${__from} and \${__to} give them); milliseconds are the finest step`
  );
}

/** Our output form: UTC, always three fractional digits, e.g. 2025-07-18T20:42:34.000Z. */
export function formatRfc3339(epochMs: number): string {
  return new Date(epochMs).toISOString();
}
