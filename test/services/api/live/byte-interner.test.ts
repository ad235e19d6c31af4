import { describe, expect, test } from "bun:test";
import { ByteInterner, InternerFullError } from "../../../../services/api/live/byte-interner.ts";

const encoder = new TextEncoder();

describe("ByteInterner", () => {
  test("the same text has the same id, from bytes anywhere in a buffer or from a string", () => {
    const interner = new ByteInterner("test", 100);
    const buffer = encoder.encode("xxGPU-1yyGPU-1zzGPU-2");
    const first = interner.idOfBytes(buffer, 2, 5);
    expect(interner.idOfBytes(buffer, 9, 5)).toBe(first);
    expect(interner.idOfText("GPU-1")).toBe(first);
    expect(interner.idOfBytes(buffer, 16, 5)).not.toBe(first);
    expect(interner.text(first)).toBe("GPU-1");
    expect(interner.find("GPU-2")).toBe(interner.idOfText("GPU-2"));
    expect(interner.find("GPU-3")).toBeUndefined();
    expect(interner.size).toBe(2);
  });

  test("10,000 distinct texts (multi-byte too) keep distinct, stable ids", () => {
    const interner = new ByteInterner("test", 20_000);
    const texts = Array.from({ length: 10_000 }, (_, index) => `pod-${index.toString(36)}-é${index % 7}`);
    const ids = texts.map((text) => interner.idOfText(text));
    expect(new Set(ids).size).toBe(texts.length);
    texts.forEach((text, index) => {
      const bytes = encoder.encode(text);
      expect(interner.idOfBytes(bytes, 0, bytes.length)).toBe(ids[index] as number);
      expect(interner.text(ids[index] as number)).toBe(text);
    });
  });

  test("past entriesMax it throws, naming the interner", () => {
    const interner = new ByteInterner("pods", 2);
    interner.idOfText("a");
    interner.idOfText("b");
    expect(interner.idOfText("a")).toBe(0);
    expect(() => interner.idOfText("c")).toThrow(InternerFullError);
    expect(() => interner.idOfText("c")).toThrow(/pods: more than 2/);
  });
});
