import { describe, expect, test } from "bun:test";
import { query } from "chdb";
import type { TelemetryPoint } from "../../../src/domain/telemetry.ts";
import {
  decodeTelemetryRecord,
  encodeRecordTail,
  encodeTelemetryRecord,
  recordHead,
  stampRecord,
} from "../../../src/telemetry/record-codec.ts";

function point(overrides: Partial<TelemetryPoint> = {}): TelemetryPoint {
  return {
    ts: 1_763_790_000_123,
    source_ts: 1_752_871_354_000,
    uuid: "GPU-5fd4f087-86f3-7a43-b711-4771313afc50",
    hostname: "mtv5-dgx1-hgpu-031",
    gpu_index: 0,
    device: "nvidia0",
    model: "NVIDIA H100 80GB HBM3",
    metric: "DCGM_FI_DEV_GPU_UTIL",
    value: 98.5,
    container: "",
    pod: "",
    namespace: "",
    labels: { DCGM_FI_DRIVER_VERSION: "535.129.03", job: "dgx_dcgm_exporter" },
    ...overrides,
  };
}

/** Strings that need escaping in JSON, and ones that do not but are easy to get wrong. */
const awkward = {
  hostname: 'quote"back\\slash',
  model: "tab\tnewline\ncr\r nul\u0000 bell\u0007 unit\u001f del\u007f",
  container: "ünïcödé ノード 😀 \u2028\u2029",
  pod: "lone surrogate \ud800 end",
  namespace: "</script>{}[],:",
  labels: { 'k"ey': 'v\\al"ue\n', "": "empty name", "é": "😀" },
};

describe("encodeTelemetryRecord", () => {
  test("is one JSON line that JSON.parse reads back identically, ts first", () => {
    const original = point();
    const line = encodeTelemetryRecord(original);
    expect(line.includes("\n")).toBe(false);
    expect(line.startsWith(`${recordHead}${original.ts},`)).toBe(true);
    expect(JSON.parse(line)).toEqual(original);
    expect(Object.keys(JSON.parse(line))).toEqual(Object.keys(original));
  });

  test("escapes quotes, backslashes, control characters and lone surrogates", () => {
    const original = point(awkward);
    const line = encodeTelemetryRecord(original);
    expect(line.includes("\n")).toBe(false);
    const back = JSON.parse(line) as TelemetryPoint;
    expect(back.hostname).toBe(awkward.hostname);
    expect(back.model).toBe(awkward.model);
    expect(back.container).toBe(awkward.container);
    expect(back.namespace).toBe(awkward.namespace);
    expect(back.labels).toEqual(awkward.labels);
    // A lone surrogate cannot survive UTF-8; JSON.stringify's escaping is the reference.
    expect(back.pod).toBe(JSON.parse(JSON.stringify(awkward.pod)));
  });

  test("numbers: integers, negatives, tiny and huge values stay valid JSON", () => {
    for (const value of [0, -0, -12.75, 1e-7, 1e21, 1.7976931348623157e308, 5e-324]) {
      const back = JSON.parse(encodeTelemetryRecord(point({ value }))) as TelemetryPoint;
      expect(back.value).toBe(value === 0 ? 0 : value);
    }
  });

  test("refuses values JSON cannot carry and timestamps that are not integer ms", () => {
    expect(() => encodeTelemetryRecord(point({ value: Number.NaN }))).toThrow(/not finite/);
    expect(() => encodeTelemetryRecord(point({ value: Number.POSITIVE_INFINITY }))).toThrow(/not finite/);
    expect(() => encodeTelemetryRecord(point({ ts: 1.5 }))).toThrow(/ts 1.5/);
    expect(() => encodeTelemetryRecord(point({ source_ts: -1 }))).toThrow(/source_ts -1/);
  });

  test("stamping a tail equals encoding the whole point", () => {
    const original = point(awkward);
    const { ts, ...sourcePoint } = original;
    expect(stampRecord(ts, encodeRecordTail(sourcePoint))).toBe(encodeTelemetryRecord(original));
  });

  test("agrees with JSON.stringify of the same point", () => {
    const original = point();
    expect(JSON.parse(encodeTelemetryRecord(original))).toEqual(JSON.parse(JSON.stringify(original)));
  });
});

describe("decodeTelemetryRecord", () => {
  test("round trips plain and awkward points, from text and from bytes", () => {
    for (const original of [point(), point(awkward)]) {
      const line = encodeTelemetryRecord(original);
      const fromText = decodeTelemetryRecord(line);
      const fromBytes = decodeTelemetryRecord(new TextEncoder().encode(line));
      expect(fromText.ok).toBe(true);
      expect(fromBytes).toEqual(fromText);
      if (fromText.ok) expect(fromText.point).toEqual(JSON.parse(line));
    }
  });

  const valid = JSON.parse(encodeTelemetryRecord(point())) as Record<string, unknown>;
  const variant = (changes: Record<string, unknown>) => JSON.stringify({ ...valid, ...changes });
  const without = (name: string) => JSON.stringify({ ...valid, [name]: undefined });

  test.each([
    ["not JSON", "{nope", "undecodable"],
    ["truncated JSON", encodeTelemetryRecord(point()).slice(0, 40), "undecodable"],
    ["an array", "[1,2]", "unknown_shape"],
    ["a number", "42", "unknown_shape"],
    ["no uuid", without("uuid"), "missing_uuid"],
    ["empty uuid", variant({ uuid: "" }), "missing_uuid"],
    ["no metric", without("metric"), "missing_metric"],
    ["string value", variant({ value: "12" }), "non_numeric_value"],
    ["overflowing value", encodeTelemetryRecord(point()).replace('"value":98.5', '"value":1e999'), "non_numeric_value"],
    ["fractional ts", variant({ ts: 1.5 }), "bad_timestamp"],
    ["missing source_ts", without("source_ts"), "bad_timestamp"],
    ["labels not strings", variant({ labels: { a: 1 } }), "bad_labels"],
    ["labels an array", variant({ labels: ["a"] }), "bad_labels"],
    ["a long hostname", variant({ hostname: "h".repeat(300) }), "field_too_long"],
    ["an extra field", variant({ extra: 1 }), "unknown_shape"],
    ["a gpu index out of range", variant({ gpu_index: 5000 }), "unknown_shape"],
  ])("%s is rejected as its reason", (_name, text, reason) => {
    const result = decodeTelemetryRecord(text);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.reason).toBe(reason as typeof result.reason);
      expect(result.detail.length).toBeGreaterThan(0);
    }
  });

  test("invalid UTF-8 bytes are undecodable", () => {
    const result = decodeTelemetryRecord(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]));
    expect(result).toMatchObject({ ok: false, reason: "undecodable" });
  });
});

describe("ClickHouse JSONEachRow reads the encoded lines", () => {
  const structure =
    "ts DateTime64(3, 'UTC'), source_ts DateTime64(3, 'UTC'), uuid String, hostname String, gpu_index UInt16, " +
    "device String, model String, metric String, value Float64, container String, pod String, namespace String, " +
    "labels Map(String, String)";
  const sqlString = (text: string) => `'${text.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;

  test("a body of joined lines parses into the same values", () => {
    const points = [point(), point({ ...awkward, pod: "no surrogates here", ts: 1_763_790_000_999, value: -3.25 })];
    const body = points.map(encodeTelemetryRecord).join("\n");
    const sql =
      `SELECT toUnixTimestamp64Milli(ts) AS ts, toUnixTimestamp64Milli(source_ts) AS source_ts, uuid, hostname, ` +
      `gpu_index, device, model, metric, value, container, pod, namespace, labels ` +
      `FROM format(JSONEachRow, ${sqlString(structure)}, ${sqlString(body)})`;
    const rows = query(sql, "JSONEachRow")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(rows).toHaveLength(2);
    for (const [index, row] of rows.entries()) {
      const expected = points[index] as TelemetryPoint;
      // ClickHouse renders 64-bit integers as strings in JSON output.
      expect(Number(row.ts)).toBe(expected.ts);
      expect(Number(row.source_ts)).toBe(expected.source_ts);
      expect({ ...row, ts: expected.ts, source_ts: expected.source_ts }).toEqual(expected);
    }
  });
});
