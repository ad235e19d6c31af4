import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { query } from "chdb";
import { gpuIndexMax, TelemetryPoint } from "../../../src/domain/telemetry.ts";
import {
  checkAndLocateRecord,
  checkTelemetryRecord,
  decodeTelemetryRecord,
  encodeRecordTail,
  encodeTelemetryRecord,
  findLabel,
  newRecordPositions,
  recordColumns,
  recordFieldIndex,
  recordFormatTag,
  recordRow,
  scheduledRecordTag,
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

/** Strings with quotes, control characters, multi-byte UTF-8 and lengths around the 1-byte length prefix. */
const awkward = {
  hostname: 'quote"back\\slash',
  model: "tab\tnewline\ncr\r nul\u0000 bell\u0007 unit\u001f del\u007f",
  container: "ünïcödé ノード 😀 \u2028\u2029",
  pod: "p".repeat(127),
  namespace: "n".repeat(128),
  labels: { 'k"ey': 'v\\al"ue\n', "": "empty name", é: "😀", long: "ノ".repeat(256) },
};

const isTelemetryPoint = TypeCompiler.Compile(TelemetryPoint);

/** A small deterministic PRNG so a failure reproduces. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

describe("encodeTelemetryRecord", () => {
  test("is the format tag, then ts as Int64 little-endian, then the rest", () => {
    const record = encodeTelemetryRecord(point());
    expect(record[0]).toBe(recordFormatTag);
    expect(new DataView(record.buffer, record.byteOffset + 1, 8).getBigInt64(0, true)).toBe(1_763_790_000_123n);
  });

  test("a record of the loop's schedule differs only by its tag: same point, same row", () => {
    const plain = encodeTelemetryRecord(point());
    const scheduled = plain.slice();
    scheduled[0] = scheduledRecordTag;
    expect(decodeTelemetryRecord(scheduled)).toEqual({ ok: true, point: point() });
    expect(checkTelemetryRecord(scheduled)).toEqual({ ok: true });
    expect(recordRow(scheduled)).toEqual(recordRow(plain));
    const unknown = plain.slice();
    unknown[0] = 0x03;
    expect(decodeTelemetryRecord(unknown)).toMatchObject({ ok: false, reason: "unknown_shape" });
  });

  test("round trips plain and awkward points", () => {
    for (const original of [point(), point(awkward), point({ value: -0.5, gpu_index: gpuIndexMax, labels: {} })]) {
      expect(decodeTelemetryRecord(encodeTelemetryRecord(original))).toEqual({ ok: true, point: original });
    }
  });

  test("numbers: integers, negatives, tiny and huge values and the largest timestamps are exact", () => {
    for (const value of [0, -12.75, 1e-7, 1e21, 1.7976931348623157e308, 5e-324]) {
      expect(decodeTelemetryRecord(encodeTelemetryRecord(point({ value })))).toMatchObject({
        ok: true,
        point: { value },
      });
    }
    const ts = Number.MAX_SAFE_INTEGER;
    expect(decodeTelemetryRecord(encodeTelemetryRecord(point({ ts, source_ts: 0 })))).toMatchObject({
      ok: true,
      point: { ts, source_ts: 0 },
    });
  });

  test("refuses values the table refuses and timestamps that are not integer ms", () => {
    expect(() => encodeTelemetryRecord(point({ value: Number.NaN }))).toThrow(/not finite/);
    expect(() => encodeTelemetryRecord(point({ value: Number.POSITIVE_INFINITY }))).toThrow(/not finite/);
    expect(() => encodeTelemetryRecord(point({ ts: 1.5 }))).toThrow(/ts 1.5/);
    expect(() => encodeTelemetryRecord(point({ source_ts: -1 }))).toThrow(/source_ts -1/);
  });

  test("refuses a GPU index the collector would refuse: above gpuIndexMax, negative or fractional", () => {
    expect(decodeTelemetryRecord(encodeTelemetryRecord(point({ gpu_index: gpuIndexMax })))).toMatchObject({ ok: true });
    for (const gpu_index of [gpuIndexMax + 1, 0xffff, -1, 1.5]) {
      expect(() => encodeTelemetryRecord(point({ gpu_index }))).toThrow(`gpu_index ${gpu_index}`);
    }
  });

  test("stamping a tail equals encoding the whole point", () => {
    const original = point(awkward);
    const { ts, ...sourcePoint } = original;
    expect(stampRecord(ts, encodeRecordTail(sourcePoint))).toEqual(encodeTelemetryRecord(original));
  });
});

describe("decodeTelemetryRecord", () => {
  const valid = encodeTelemetryRecord(point());
  const mutate = (edit: (bytes: Uint8Array, view: DataView) => void) => {
    const copy = valid.slice();
    edit(copy, new DataView(copy.buffer));
    return copy;
  };
  const uuidAt = 1 + 8 + 8;
  // After tag, ts, source_ts, uuid, hostname.
  const gpuIndexAt = (record: Uint8Array) =>
    uuidAt + 1 + (record[uuidAt] as number) + 1 + (record[uuidAt + 1 + (record[uuidAt] as number)] as number);
  const valueAt = (record: Uint8Array) => {
    // After tag, ts, source_ts, uuid, hostname, gpu_index, device, model, metric.
    let at = uuidAt;
    for (const field of ["uuid", "hostname", "gpu_index", "device", "model", "metric"])
      at += field === "gpu_index" ? 2 : 1 + (record[at] as number);
    return at;
  };

  test.each([
    ["a truncated record", valid.subarray(0, 40), "undecodable"],
    ["a trailing byte", new Uint8Array([...valid, 0]), "undecodable"],
    ["an unknown format tag", mutate((bytes) => (bytes[0] = 7)), "unknown_shape"],
    ["an empty uuid", encodeTelemetryRecord(point({ uuid: "" })), "missing_uuid"],
    ["an empty metric", encodeTelemetryRecord(point({ metric: "" })), "missing_metric"],
    ["a NaN value", mutate((bytes, view) => view.setFloat64(valueAt(bytes), Number.NaN, true)), "non_numeric_value"],
    [
      "an infinite value",
      mutate((bytes, view) => view.setFloat64(valueAt(bytes), Number.NEGATIVE_INFINITY, true)),
      "non_numeric_value",
    ],
    ["a negative ts", mutate((_bytes, view) => view.setBigInt64(1, -5n, true)), "bad_timestamp"],
    ["a ts beyond 2^53", mutate((_bytes, view) => view.setBigInt64(1, 2n ** 60n, true)), "bad_timestamp"],
    ["a long hostname", encodeTelemetryRecord(point({ hostname: "h".repeat(300) })), "field_too_long"],
    ["a long multi-byte model", encodeTelemetryRecord(point({ model: "é".repeat(257) })), "field_too_long"],
    [
      "a gpu index out of range",
      mutate((bytes, view) => view.setUint16(gpuIndexAt(bytes), gpuIndexMax + 1, true)),
      "unknown_shape",
    ],
    [
      "too many labels",
      encodeTelemetryRecord(
        point({ labels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`l${i}`, "v"])) }),
      ),
      "bad_labels",
    ],
    ["a long label", encodeTelemetryRecord(point({ labels: { name: "v".repeat(257) } })), "bad_labels"],
    ["invalid UTF-8 in a string", mutate((bytes) => bytes.set([0xc3, 0x28], uuidAt + 5)), "undecodable"],
  ])("%s is rejected as its reason, by decode and check alike", (_name, record, reason) => {
    const decoded = decodeTelemetryRecord(record);
    expect(decoded).toMatchObject({ ok: false, reason });
    if (!decoded.ok) expect(decoded.detail.length).toBeGreaterThan(0);
    expect(checkTelemetryRecord(record)).toEqual(decoded.ok ? { ok: true } : decoded);
  });

  test("check and decode agree on 5,000 random mutations, and what they accept is a TelemetryPoint", () => {
    const next = random(42);
    const original = encodeTelemetryRecord(point(awkward));
    let accepted = 0;
    for (let round = 0; round < 5_000; round += 1) {
      const bytes = [...original];
      for (let edit = 0; edit < 1 + Math.floor(next() * 3); edit += 1) {
        const at = 1 + Math.floor(next() * (bytes.length - 1));
        const byte = Math.floor(next() * 256);
        const kind = next();
        if (kind < 0.6) bytes[at] = byte;
        else if (kind < 0.8) bytes.splice(at, 1);
        else bytes.splice(at, 0, byte);
      }
      const record = new Uint8Array(bytes);
      const decoded = decodeTelemetryRecord(record);
      const checked = checkTelemetryRecord(record);
      expect(checked.ok).toBe(decoded.ok);
      expect(checkAndLocateRecord(record, newRecordPositions())).toEqual(checked);
      if (!decoded.ok) continue;
      accepted += 1;
      expect(isTelemetryPoint.Check(decoded.point)).toBe(true);
      expect(located(record)).toEqual(locatedFields(decoded.point));
    }
    expect(accepted).toBeGreaterThan(100);
  });
});

const textDecoder = new TextDecoder();
const textFields = ["uuid", "metric", "hostname", "namespace", "pod", "container"] as const;

/** What a reader finds in place: the text fields, the value, and two labels. */
function located(record: Uint8Array) {
  const positions = newRecordPositions();
  expect(checkAndLocateRecord(record, positions)).toEqual({ ok: true });
  const text = (name: (typeof textFields)[number]) => {
    const index = recordFieldIndex(name) * 2;
    return textDecoder.decode(record.subarray(positions[index], (positions[index] ?? 0) + (positions[index + 1] ?? 0)));
  };
  const label = (name: string) => {
    const range = new Int32Array(2);
    if (!findLabel(record, positions, new TextEncoder().encode(name), range)) return undefined;
    return textDecoder.decode(record.subarray(range[0], (range[0] ?? 0) + (range[1] ?? 0)));
  };
  const valueAt = positions[recordFieldIndex("value") * 2] ?? 0;
  return {
    ...Object.fromEntries(textFields.map((name) => [name, text(name)])),
    value: new DataView(record.buffer, record.byteOffset).getFloat64(valueAt, true),
    GPU_I_ID: label("GPU_I_ID"),
    job: label("job"),
  };
}

function locatedFields(decoded: TelemetryPoint) {
  return {
    ...Object.fromEntries(textFields.map((name) => [name, decoded[name]])),
    value: decoded.value,
    GPU_I_ID: decoded.labels.GPU_I_ID,
    job: decoded.labels.job,
  };
}

describe("checkAndLocateRecord and findLabel", () => {
  test("find each field and label in place, as decode reads them", () => {
    const labels = { DCGM_FI_DRIVER_VERSION: "550.54.15", GPU_I_PROFILE: "1g.10gb", GPU_I_ID: "13", job: "dcgm ✓" };
    for (const record of [
      encodeTelemetryRecord(point({ labels, pod: "train-7", namespace: "ml", container: "main" })),
      encodeTelemetryRecord(point(awkward)),
      encodeTelemetryRecord(point({ labels: {} })),
    ]) {
      const decoded = decodeTelemetryRecord(record);
      if (!decoded.ok) throw new Error("encoded record does not decode");
      expect(located(record)).toEqual(locatedFields(decoded.point));
    }
  });

  test("a record of the loop's schedule (tag 0x02) is located like a plain one; an unknown tag is refused", () => {
    const plain = encodeTelemetryRecord(point({ labels: { GPU_I_ID: "3" }, pod: "train-7" }));
    const scheduled = plain.slice();
    scheduled[0] = scheduledRecordTag;
    expect(located(scheduled)).toEqual(located(plain));
    const unknown = plain.slice();
    unknown[0] = 0x03;
    expect(checkAndLocateRecord(unknown, newRecordPositions())).toMatchObject({ ok: false, reason: "unknown_shape" });
  });

  test("a JSON record is not located (it has no byte layout)", () => {
    const json = new TextEncoder().encode(JSON.stringify(point()));
    expect(checkAndLocateRecord(json, newRecordPositions())).toMatchObject({ ok: false, reason: "unknown_shape" });
  });
});

describe("JSON records", () => {
  const json = (value: unknown) => JSON.stringify(value);
  const valid = JSON.parse(json(point())) as Record<string, unknown>;
  const variant = (changes: Record<string, unknown>) => json({ ...valid, ...changes });
  const without = (name: string) => json({ ...valid, [name]: undefined });

  test("a TelemetryPoint object decodes, from text and from bytes", () => {
    expect(decodeTelemetryRecord(json(point(awkward)))).toEqual({ ok: true, point: point(awkward) });
    expect(decodeTelemetryRecord(new TextEncoder().encode(json(point())))).toEqual({ ok: true, point: point() });
    expect(checkTelemetryRecord(new TextEncoder().encode(json(point())))).toEqual({ ok: true });
  });

  test.each([
    ["not JSON", "{nope", "undecodable"],
    ["an array", "[1,2]", "unknown_shape"],
    ["no uuid", without("uuid"), "missing_uuid"],
    ["no metric", without("metric"), "missing_metric"],
    ["string value", variant({ value: "12" }), "non_numeric_value"],
    ["overflowing value", json(point()).replace('"value":98.5', '"value":1e999'), "non_numeric_value"],
    ["fractional ts", variant({ ts: 1.5 }), "bad_timestamp"],
    ["labels not strings", variant({ labels: { a: 1 } }), "bad_labels"],
    ["a long hostname", variant({ hostname: "h".repeat(300) }), "field_too_long"],
    ["an extra field", variant({ extra: 1 }), "unknown_shape"],
  ])("%s is rejected as its reason", (_name, text, reason) => {
    expect(decodeTelemetryRecord(text)).toMatchObject({ ok: false, reason });
  });

  test("invalid UTF-8 bytes are undecodable", () => {
    expect(decodeTelemetryRecord(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]))).toMatchObject({
      ok: false,
      reason: "undecodable",
    });
  });
});

describe("ClickHouse reads the records' rows as RowBinary", () => {
  const directory = mkdtempSync(join(tmpdir(), "record-codec-"));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));
  const structure =
    "ts DateTime64(3, 'UTC'), source_ts DateTime64(3, 'UTC'), uuid String, hostname String, gpu_index UInt16, " +
    "device String, model String, metric String, value Float64, container String, pod String, namespace String, " +
    "labels Map(String, String)";

  test("a body of concatenated rows parses into the same values", () => {
    expect(structure.split(/, (?=[a-z_]+ [A-Z])/).map((column) => column.split(" ")[0])).toEqual([...recordColumns]);
    const points = [point(), point({ ...awkward, ts: 1_763_790_000_999, value: -3.25 })];
    const path = join(directory, "rows.bin");
    writeFileSync(path, Buffer.concat(points.map((each) => recordRow(encodeTelemetryRecord(each)))));
    const sql =
      `SELECT toUnixTimestamp64Milli(ts) AS ts, toUnixTimestamp64Milli(source_ts) AS source_ts, uuid, hostname, ` +
      `gpu_index, device, model, metric, value, container, pod, namespace, labels ` +
      `FROM file('${path}', RowBinary, '${structure.replace(/'/g, "\\'")}')`;
    const rows = query(sql, "JSONEachRow")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(rows).toHaveLength(2);
    for (const [index, row] of rows.entries()) {
      const expected = points[index] as TelemetryPoint;
      // ClickHouse renders 64-bit integers as strings in JSON output.
      expect({ ...row, ts: Number(row.ts), source_ts: Number(row.source_ts) }).toEqual(expected);
    }
  });
});
