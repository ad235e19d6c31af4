import { expect, test } from "bun:test";
import { ByteBudget } from "../../../src/broker-client/byte-budget.ts";

test("a waiter wakes when bytes are released, or when its signal aborts", async () => {
  const budget = new ByteBudget(100);
  budget.take(100);
  let woken = false;
  const waiting = budget.waitForRoom().then(() => {
    woken = true;
  });
  await Bun.sleep(5);
  expect(woken).toBe(false);
  budget.release(1);
  await waiting;
  expect(woken).toBe(true);

  budget.take(1);
  const controller = new AbortController();
  const aborted = budget.waitForRoom(controller.signal);
  controller.abort();
  await aborted;
  expect(budget.used).toBe(100);
});

test("many waits on one signal leave no listener behind once woken", async () => {
  const budget = new ByteBudget(10);
  const controller = new AbortController();
  let listeners = 0;
  const signal = controller.signal;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((...args: Parameters<typeof add>) => {
    listeners += 1;
    add(...args);
  }) as typeof signal.addEventListener;
  signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
    listeners -= 1;
    remove(...args);
  }) as typeof signal.removeEventListener;
  for (let round = 0; round < 1_000; round += 1) {
    budget.take(10);
    const waiting = budget.waitForRoom(signal);
    budget.release(10);
    await waiting;
  }
  expect(listeners).toBe(0);
});
