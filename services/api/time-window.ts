import { ApiError, badRequest } from "./errors.ts";
import { formatRfc3339, parseTimeParameter } from "./time-parsing.ts";

export interface TimeWindowLimits {
  /** Window length when start_time is not given. */
  windowMsDefault: number;
  /** Longest window one query may span. */
  windowMsMax: number;
}

export interface TimeWindow {
  /** Inclusive, UTC epoch milliseconds. */
  startMs: number;
  /** Inclusive, UTC epoch milliseconds. */
  endMs: number;
}

export interface TimeWindowQuery {
  start_time?: string;
  end_time?: string;
}

/**
 * Both bounds are optional and take RFC 3339 or epoch milliseconds: end_time defaults to now and start_time to
 * end_time − windowMsDefault, so `GET .../telemetry` alone shows the last hour.
 */
export function resolveTimeWindow(query: TimeWindowQuery, nowMs: number, limits: TimeWindowLimits): TimeWindow {
  const endMs = query.end_time === undefined ? nowMs : parseBound("end_time", query.end_time, "down");
  const startMs =
    query.start_time === undefined ? endMs - limits.windowMsDefault : parseBound("start_time", query.start_time, "up");
  if (endMs < startMs) {
    const endText = query.end_time ?? `now (${formatRfc3339(endMs)})`;
    throw new ApiError("bad_request", `end_time ${endText} is before start_time ${query.start_time}`, [
      { field: "end_time", problem: "must not be before start_time (both bounds are inclusive)" },
    ]);
  }
  if (endMs - startMs > limits.windowMsMax) {
    const problem = `the window spans ${describeMs(endMs - startMs)}; at most ${describeMs(limits.windowMsMax)} per query`;
    throw new ApiError("bad_request", `Time window too long: ${problem}. Narrow start_time..end_time.`, [
      { field: "start_time", problem },
    ]);
  }
  return { startMs: Math.max(0, startMs), endMs };
}

function parseBound(field: string, text: string, rounding: "up" | "down"): number {
  const parsed = parseTimeParameter(text, rounding);
  if (!parsed.ok) throw badRequest(field, `${JSON.stringify(text)} is ${parsed.problem}`);
  return parsed.epochMs;
}

export function describeMs(durationMs: number): string {
  const units: [number, string][] = [
    [86_400_000, "d"],
    [3_600_000, "h"],
    [60_000, "min"],
    [1_000, "s"],
  ];
  for (const [unitMs, name] of units) {
    if (durationMs >= unitMs) return `${Number((durationMs / unitMs).toFixed(2))} ${name}`;
  }
  return `${durationMs} ms`;
}
