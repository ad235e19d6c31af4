import { describe, expect, test } from "bun:test";
import { OverloadedError, QueryGate } from "../../../services/api/query-gate.ts";
import { createMetricsRegistry } from "../../../src/observability/metrics.ts";

function gate(options: { inFlightMax: number; queueLengthMax: number; waitMsMax: number }) {
  const registry = createMetricsRegistry({ service: "api", instanceId: "test" });
  return { gate: new QueryGate({ ...options, registry }), registry };
}

/** Work that finishes when the test says so. */
function held() {
  const done = Promise.withResolvers<void>();
  let started = false;
  const work = async () => {
    started = true;
    await done.promise;
    return "done";
  };
  return { work, release: () => done.resolve(), started: () => started };
}

describe("QueryGate", () => {
  test("runs at most inFlightMax at once and hands freed slots to waiters in order", async () => {
    const { gate: queries } = gate({ inFlightMax: 2, queueLengthMax: 5, waitMsMax: 5_000 });
    const jobs = [held(), held(), held()];
    const results = jobs.map((job) => queries.run(job.work));
    await Bun.sleep(1);
    expect(jobs.map((job) => job.started())).toEqual([true, true, false]);
    jobs[0]?.release();
    await results[0];
    await Bun.sleep(1);
    expect(jobs[2]?.started()).toBe(true);
    jobs[1]?.release();
    jobs[2]?.release();
    expect(await Promise.all(results)).toEqual(["done", "done", "done"]);
  });

  test("refuses at once when the queue is full, and after waitMsMax when no slot frees", async () => {
    const { gate: queries, registry } = gate({ inFlightMax: 1, queueLengthMax: 1, waitMsMax: 30 });
    const running = held();
    const first = queries.run(running.work);
    const waiting = queries.run(async () => "late");
    await expect(queries.run(async () => "x")).rejects.toBeInstanceOf(OverloadedError);
    await expect(waiting).rejects.toThrow("waited 30 ms");
    running.release();
    expect(await first).toBe("done");
    expect(await queries.run(async () => "again")).toBe("again");
    const text = await registry.metrics();
    expect(text).toContain(
      'api_clickhouse_rejected_total{reason="queue_full",pipeline_service="api",pipeline_instance="test"} 1',
    );
    expect(text).toContain(
      'api_clickhouse_rejected_total{reason="wait_timeout",pipeline_service="api",pipeline_instance="test"} 1',
    );
  });

  test("a failing job frees its slot", async () => {
    const { gate: queries } = gate({ inFlightMax: 1, queueLengthMax: 1, waitMsMax: 1_000 });
    await expect(queries.run(async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await queries.run(async () => 1)).toBe(1);
  });
});
