import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { Type } from "@sinclair/typebox";
import {
  createCursorCodec,
  cursorKeyFromConfig,
  cursorLengthMax,
  queryCheck,
  randomCursorKey,
} from "../../../services/api/cursor-codec.ts";
import { ApiError } from "../../../services/api/errors.ts";

const key = randomCursorKey();
const codec = createCursorCodec("things", Type.Object({ after: Type.Integer({ minimum: 0 }) }), key);
const check = queryCheck(["things", "host-a"]);

function rejection(run: () => unknown): ApiError {
  try {
    run();
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error("expected an ApiError");
}

/** A cursor signed with `signingKey` over any payload we like (what a key holder could mint). */
function signed(payload: unknown, signingKey: Uint8Array = key): string {
  const text = Buffer.from(JSON.stringify(payload)).toString("base64url");
  return `${text}.${createHmac("sha256", signingKey).update(text).digest("base64url")}`;
}

describe("cursor codec", () => {
  test("round-trips a position as url-safe text", () => {
    const text = codec.encode(check, { after: 42 });
    expect(text).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(codec.decode(check, text)).toEqual({ after: 42 });
  });

  test("a cursor of another query is refused as such", () => {
    const text = codec.encode(check, { after: 1 });
    const error = rejection(() => codec.decode(queryCheck(["things", "host-b"]), text));
    expect(error.status).toBe(400);
    expect(error.details).toEqual([{ field: "cursor", problem: expect.stringContaining("different query") }]);
  });

  test("forged, tampered and other-key cursors are refused before their position is read", () => {
    const good = codec.encode(check, { after: 1 });
    const [payload, mac] = good.split(".") as [string, string];
    const tamperedPayload = Buffer.from(
      Buffer.from(payload, "base64url").toString("utf8").replace('"after":1', '"after":9'),
    ).toString("base64url");
    const otherKey = createCursorCodec("things", Type.Object({ after: Type.Integer() }), randomCursorKey());
    const forgeries = [
      `${tamperedPayload}.${mac}`,
      `${payload}.${mac.startsWith("A") ? "B" : "A"}${mac.slice(1)}`,
      otherKey.encode(check, { after: 1 }),
      signed({ v: 2, kind: "things", check, position: { after: 1 } }, randomCursorKey()),
    ];
    for (const text of forgeries) {
      const error = rejection(() => codec.decode(check, text));
      expect(error.status).toBe(400);
      expect(error.details[0]?.problem).toContain("not issued by this API");
    }
  });

  test("garbage, unsigned, other kinds, bad positions and oversize text are malformed", () => {
    const unsigned = Buffer.from(JSON.stringify({ v: 2, kind: "things", check, position: { after: 1 } })).toString(
      "base64url",
    );
    const otherKind = signed({ v: 2, kind: "others", check, position: { after: 1 } });
    const badPosition = signed({ v: 2, kind: "things", check, position: { after: -1 } });
    const notJson = `bm90IGpzb24.${createHmac("sha256", key).update("bm90IGpzb24").digest("base64url")}`;
    for (const text of ["", "!!!", unsigned, otherKind, badPosition, notJson, "a".repeat(cursorLengthMax + 1)]) {
      const error = rejection(() => codec.decode(check, text));
      expect(error.details[0]?.problem).toContain("malformed cursor");
    }
  });

  test("the check is stable and depends on every part", () => {
    expect(queryCheck(["a", 1])).toBe(queryCheck(["a", 1]));
    expect(queryCheck(["a", 1])).not.toBe(queryCheck(["a", 2]));
    expect(queryCheck(["a,b"])).not.toBe(queryCheck(["a", "b"]));
  });

  test("a configured key must decode to at least 32 bytes; empty means none", () => {
    expect(cursorKeyFromConfig("")).toBeUndefined();
    expect(cursorKeyFromConfig(Buffer.alloc(32, 7).toString("base64"))?.byteLength).toBe(32);
    expect(() => cursorKeyFromConfig("c2hvcnQ=")).toThrow("at least 32");
  });
});
