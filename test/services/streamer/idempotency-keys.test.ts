import { describe, expect, test } from "bun:test";
import { IdempotencyKeys } from "../../../services/streamer/idempotency-keys.ts";

describe("IdempotencyKeys", () => {
  test("new, running, replay, other body; answers expire after the TTL and the oldest key goes first", () => {
    let nowMs = 0;
    const keys = new IdempotencyKeys({ keysMax: 2, ttlMs: 1_000, nowMs: () => nowMs });
    expect(keys.begin("a", "h1")).toEqual({ kind: "new" });
    expect(keys.begin("a", "h1")).toEqual({ kind: "in_progress" });
    keys.finish("a", { sha256: "h1", status: 200, body: { accepted: 1 } });
    expect(keys.begin("a", "h1")).toEqual({
      kind: "replay",
      answer: { sha256: "h1", status: 200, body: { accepted: 1 } },
    });
    expect(keys.begin("a", "h2")).toEqual({ kind: "other_body" });

    expect(keys.begin("b", "h")).toEqual({ kind: "new" });
    keys.finish("b", undefined);
    expect(keys.begin("b", "h")).toEqual({ kind: "new" });
    keys.finish("b", { sha256: "h", status: 400, body: {} });
    expect(keys.begin("c", "h")).toEqual({ kind: "new" });
    keys.finish("c", { sha256: "h", status: 200, body: {} });
    expect(keys.size).toBe(2);
    expect(keys.begin("a", "h1")).toEqual({ kind: "new" });
    keys.finish("a", undefined);

    nowMs = 1_001;
    expect(keys.begin("b", "h")).toEqual({ kind: "new" });
  });
});
