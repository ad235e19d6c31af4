import { describe, expect, test } from "bun:test";
import { Type } from "@sinclair/typebox";
import { createCursorCodec, cursorLengthMax, queryCheck } from "../../../services/api/cursor-codec.ts";
import { ApiError } from "../../../services/api/errors.ts";

const codec = createCursorCodec("things", Type.Object({ after: Type.Integer({ minimum: 0 }) }));
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

describe("cursor codec", () => {
  test("round-trips a position as url-safe text", () => {
    const text = codec.encode(check, { after: 42 });
    expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(codec.decode(check, text)).toEqual({ after: 42 });
  });

  test("a cursor of another query is refused as such", () => {
    const text = codec.encode(check, { after: 1 });
    const error = rejection(() => codec.decode(queryCheck(["things", "host-b"]), text));
    expect(error.status).toBe(400);
    expect(error.details).toEqual([{ field: "cursor", problem: expect.stringContaining("different query") }]);
  });

  test("garbage, other kinds, bad positions and oversize text are malformed", () => {
    const other = createCursorCodec("others", Type.Object({ after: Type.Integer() })).encode(check, { after: 1 });
    const forged = Buffer.from(JSON.stringify({ v: 1, kind: "things", check, position: { after: -1 } })).toString(
      "base64url",
    );
    for (const text of ["", "!!!", "bm90IGpzb24", other, forged, "a".repeat(cursorLengthMax + 1)]) {
      const error = rejection(() => codec.decode(check, text));
      expect(error.details[0]?.problem).toContain("malformed cursor");
    }
  });

  test("the check is stable and depends on every part", () => {
    expect(queryCheck(["a", 1])).toBe(queryCheck(["a", 1]));
    expect(queryCheck(["a", 1])).not.toBe(queryCheck(["a", 2]));
    expect(queryCheck(["a,b"])).not.toBe(queryCheck(["a", "b"]));
  });
});
