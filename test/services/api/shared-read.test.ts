import { describe, expect, test } from "bun:test";
import { SharedRead } from "../../../services/api/shared-read.ts";

/** A read whose completion the test controls; `started` counts reads begun. */
function controlledRead() {
  const pending: PromiseWithResolvers<number>[] = [];
  let started = 0;
  const read = () => {
    started += 1;
    const next = Promise.withResolvers<number>();
    pending.push(next);
    return next.promise;
  };
  return { read, pending, started: () => started };
}

describe("SharedRead", () => {
  test("callers that arrive while a read runs share the next read, which starts after they asked", async () => {
    const source = controlledRead();
    const shared = new SharedRead(source.read);
    const first = shared.get();
    expect(source.started()).toBe(1);
    // Arrived after read 1 started: they must not get its (possibly older) answer.
    const second = shared.get();
    const third = shared.get();
    expect(source.started()).toBe(1);
    source.pending[0]?.resolve(1);
    expect(await first).toBe(1);
    expect(source.started()).toBe(2);
    source.pending[1]?.resolve(2);
    expect(await second).toBe(2);
    expect(await third).toBe(2);
  });

  test("a failed read fails its callers only; the next caller starts a new read", async () => {
    const source = controlledRead();
    const shared = new SharedRead(source.read);
    const failing = shared.get();
    source.pending[0]?.reject(new Error("down"));
    await expect(failing).rejects.toThrow("down");
    const after = shared.get();
    expect(source.started()).toBe(2);
    source.pending[1]?.resolve(7);
    expect(await after).toBe(7);
  });

  test("a read that throws at once is a rejection, not a stuck reader", async () => {
    let calls = 0;
    const shared = new SharedRead<number>(() => {
      calls += 1;
      if (calls === 1) throw new Error("sync");
      return Promise.resolve(calls);
    });
    await expect(shared.get()).rejects.toThrow("sync");
    expect(await shared.get()).toBe(2);
  });
});
