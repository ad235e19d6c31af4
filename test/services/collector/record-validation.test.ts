import { describe, expect, test } from "bun:test";
import { decodeTelemetryRecord, encodeTelemetryRecord } from "../../../src/telemetry/record-codec.ts";
import { isCanonicalRecord, validateRecordValue } from "../../../services/collector/record-validation.ts";
import { pointAt } from "./telemetry-fixture.ts";

const encoder = new TextEncoder();
const bytes = (text: string) => encoder.encode(text);
const canonical = encodeTelemetryRecord({ ...pointAt(7, 1_763_000_000_000), value: -12.625, labels: { DCGM_FI_DRIVER_VERSION: "535.129.03", Hostname: "h" } });

/** A small deterministic PRNG so a failure reproduces. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

describe("fast path", () => {
  test("accepts what the streamer writes", () => {
    expect(isCanonicalRecord(bytes(canonical))).toBe(true);
    for (let index = 0; index < 200; index++) {
      expect(isCanonicalRecord(bytes(encodeTelemetryRecord(pointAt(index, 1_763_000_000_000))))).toBe(true);
    }
  });

  test("never accepts what the full check rejects (5,000 random mutations)", () => {
    const next = random(42);
    const alphabet = '{}[]":,\\0123456789-.eE aZ\u0000\u00e9"';
    let acceptedMutations = 0;
    for (let round = 0; round < 5_000; round++) {
      let text = canonical;
      const edits = 1 + Math.floor(next() * 3);
      for (let edit = 0; edit < edits; edit++) {
        const at = Math.floor(next() * text.length);
        const kind = next();
        const char = alphabet[Math.floor(next() * alphabet.length)]!;
        if (kind < 0.4) text = text.slice(0, at) + char + text.slice(at + 1);
        else if (kind < 0.7) text = text.slice(0, at) + text.slice(at + 1);
        else text = text.slice(0, at) + char + text.slice(at);
      }
      const value = bytes(text);
      if (!isCanonicalRecord(value)) continue;
      acceptedMutations += 1;
      const decoded = decodeTelemetryRecord(value);
      if (!decoded.ok) throw new Error(`fast path accepted ${JSON.stringify(text)}, full check says ${decoded.reason}`);
    }
    expect(acceptedMutations).toBeGreaterThan(0);
  });

  test("rejects invalid UTF-8 and leaves it to the full check", () => {
    const value = bytes(canonical);
    const broken = new Uint8Array([...value.subarray(0, 60), 0xc3, 0x28, ...value.subarray(60)]);
    expect(isCanonicalRecord(broken)).toBe(false);
    expect(validateRecordValue(broken)).toMatchObject({ ok: false, reason: "undecodable" });
  });
});

describe("validateRecordValue", () => {
  const point = pointAt(3, 1_763_000_000_000);
  const cases: Array<[string, string, string]> = [
    ["not JSON", "GPU 3 is hot", "undecodable"],
    ["an array", "[1,2,3]", "unknown_shape"],
    ["missing uuid", JSON.stringify({ ...point, uuid: undefined }), "missing_uuid"],
    ["empty uuid", JSON.stringify({ ...point, uuid: "" }), "missing_uuid"],
    ["text value", JSON.stringify({ ...point, value: "12" }), "non_numeric_value"],
    ["value overflowing to Infinity", canonical.replace('"value":-12.625', '"value":1e999'), "non_numeric_value"],
    ["unknown field", JSON.stringify({ ...point, extra: 1 }), "unknown_shape"],
    ["negative ts", JSON.stringify({ ...point, ts: -1 }), "bad_timestamp"],
    ["long hostname", JSON.stringify({ ...point, hostname: "h".repeat(300) }), "field_too_long"],
  ];
  for (const [name, text, reason] of cases) {
    test(`rejects ${name} as ${reason}`, () => {
      expect(validateRecordValue(bytes(text))).toMatchObject({ ok: false, reason });
    });
  }

  test("accepts valid records outside the canonical layout through the full check", () => {
    const { uuid, ...rest } = point;
    const reordered = JSON.stringify({ ...rest, uuid });
    const spaced = JSON.stringify(point, null, 1);
    const escaped = JSON.stringify({ ...point, pod: 'job "7"' });
    const exponent = canonical.replace('"value":-12.625', '"value":1.5e-7');
    for (const text of [reordered, spaced, escaped, exponent]) {
      expect(isCanonicalRecord(bytes(text))).toBe(false);
      expect(validateRecordValue(bytes(text))).toEqual({ ok: true });
    }
  });
});
