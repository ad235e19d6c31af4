import { describe, expect, test } from "bun:test";
import { admitRecord } from "../../../services/collector/record-validation.ts";
import { encodeTelemetryRecord, recordRow } from "../../../src/telemetry/record-codec.ts";
import { pointAt } from "./telemetry-fixture.ts";

const encoder = new TextEncoder();
const point = {
  ...pointAt(3, 1_763_000_000_000),
  value: -12.625,
  labels: { DCGM_FI_DRIVER_VERSION: "535.129.03", Hostname: "h" },
};
const binary = encodeTelemetryRecord(point);

describe("admitRecord", () => {
  test("a binary record's row is a view of the value, not a copy", () => {
    const admission = admitRecord(binary);
    expect(admission.ok).toBe(true);
    if (!admission.ok) return;
    expect(admission.row).toEqual(recordRow(binary));
    expect(admission.row.buffer).toBe(binary.buffer);
  });

  test("a JSON record, in any field order or spacing, becomes the same row as its binary twin", () => {
    const { uuid, ...rest } = point;
    for (const text of [JSON.stringify(point), JSON.stringify({ ...rest, uuid }), JSON.stringify(point, null, 1)]) {
      expect(admitRecord(encoder.encode(text))).toEqual({ ok: true, row: recordRow(binary) });
    }
  });

  const cases: Array<[string, Uint8Array, string]> = [
    ["not JSON text", encoder.encode("{GPU 3 is hot"), "undecodable"],
    ["plain text", encoder.encode("GPU 3 is hot"), "unknown_shape"],
    ["a JSON record with a text value", encoder.encode(JSON.stringify({ ...point, value: "12" })), "non_numeric_value"],
    ["a JSON record with an unknown field", encoder.encode(JSON.stringify({ ...point, extra: 1 })), "unknown_shape"],
    ["a binary record without uuid", encodeTelemetryRecord({ ...point, uuid: "" }), "missing_uuid"],
    ["a truncated binary record", binary.subarray(0, binary.length - 3), "undecodable"],
    [
      "a binary record with a long hostname",
      encodeTelemetryRecord({ ...point, hostname: "h".repeat(300) }),
      "field_too_long",
    ],
  ];
  for (const [name, value, reason] of cases) {
    test(`rejects ${name} as ${reason}`, () => {
      expect(admitRecord(value)).toMatchObject({ ok: false, reason });
    });
  }
});
