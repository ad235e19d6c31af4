import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { OutOfOrderSequenceError } from "../../../brokers/log/errors.ts";
import { ProducerState } from "../../../brokers/log/producer-state.ts";
import { sequenceMax } from "../../../src/broker-protocol/record-batch.ts";
import { tempDir } from "./log-test-support.ts";

const dir = tempDir("producer-state");
afterAll(dir.remove);

function appendTo(
  state: ProducerState,
  producerId: number,
  baseSequence: number,
  recordCount: number,
  baseOffset: number,
) {
  const batch = { producerId, baseSequence, recordCount };
  const [check] = state.check([batch]);
  if (check!.kind === "new") state.record({ ...batch, baseOffset, lastOffset: baseOffset + recordCount - 1 });
  return check!;
}

describe("ProducerState", () => {
  test("recognises a retry of any of the last five batches, and refuses an older one", () => {
    const state = new ProducerState(100);
    for (let batch = 0; batch < 7; batch++) expect(appendTo(state, 1, batch * 10, 10, batch * 10).kind).toBe("new");
    expect(appendTo(state, 1, 20, 10, -1)).toEqual({ kind: "duplicate", baseOffset: 20, lastOffset: 29 });
    expect(appendTo(state, 1, 60, 10, -1)).toEqual({ kind: "duplicate", baseOffset: 60, lastOffset: 69 });
    expect(() => appendTo(state, 1, 10, 10, -1)).toThrow(OutOfOrderSequenceError);
  });

  test("a new producer may start at any sequence; gaps and rewinds are refused", () => {
    const state = new ProducerState(100);
    expect(appendTo(state, 2, 500, 5, 0).kind).toBe("new");
    expect(() => appendTo(state, 2, 506, 1, 5)).toThrow(OutOfOrderSequenceError);
    expect(() => appendTo(state, 2, 503, 1, 5)).toThrow(OutOfOrderSequenceError);
    expect(appendTo(state, 2, 505, 1, 5).kind).toBe("new");
    expect(appendTo(state, -1, -1, 3, 6).kind).toBe("new");
  });

  test("sequences wrap from 2^31-1 to 0", () => {
    const state = new ProducerState(100);
    appendTo(state, 3, sequenceMax - 1, 4, 0);
    expect(state.lastSequence(3)).toBe(1);
    expect(appendTo(state, 3, 2, 1, 4).kind).toBe("new");
  });

  test("checks the batches of one append in order without changing state", () => {
    const state = new ProducerState(100);
    appendTo(state, 4, 0, 2, 0);
    const batches = [
      { producerId: 4, baseSequence: 2, recordCount: 2 },
      { producerId: 4, baseSequence: 4, recordCount: 2 },
    ];
    expect(state.check(batches)).toEqual([{ kind: "new" }, { kind: "new" }]);
    expect(state.lastSequence(4)).toBe(1);
    expect(() => state.check([batches[1]!, batches[0]!])).toThrow(OutOfOrderSequenceError);
  });

  test("forgets the least recently used producer past producerIdsMax", () => {
    const state = new ProducerState(2);
    appendTo(state, 1, 0, 1, 0);
    appendTo(state, 2, 0, 1, 1);
    appendTo(state, 1, 1, 1, 2);
    appendTo(state, 3, 0, 1, 3);
    expect(state.producerCount).toBe(2);
    expect(state.lastSequence(2)).toBeUndefined();
    expect(state.lastSequence(1)).toBe(1);
  });

  test("a snapshot round-trips; a damaged one is reported, not trusted", () => {
    const state = new ProducerState(100);
    appendTo(state, 8, 0, 3, 0);
    appendTo(state, 9, 7, 2, 3);
    const path = join(dir.path, "producer-state.json");
    state.writeSnapshot(path, 5);
    const loaded = new ProducerState(100);
    expect(loaded.loadSnapshot(path)).toEqual({ offset: 5 });
    expect(appendTo(loaded, 9, 7, 2, -1)).toEqual({ kind: "duplicate", baseOffset: 3, lastOffset: 4 });
    writeFileSync(path, '{"offset": 5, "producers": [[1, "x"]]}');
    expect(new ProducerState(100).loadSnapshot(path)).toEqual({ problem: expect.stringMatching(/schema/) });
    writeFileSync(path, "{not json");
    expect(new ProducerState(100).loadSnapshot(path)).toEqual({ problem: expect.stringMatching(/unparsable/) });
  });
});
