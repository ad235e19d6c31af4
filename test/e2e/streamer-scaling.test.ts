/**
 * Elastic scaling 1 → 3 → 1 with real streamer processes against a real broker.
 *
 * Who produced a record: every streamer's producer has its own id (the broker hands
 * them out, one per producer), carried in the header of each record batch; the
 * streamer logs it. In a steady-state window (after the group is stable and every
 * live streamer owns partitions) the records whose processing time falls in the
 * window must cover all 247 GPUs, each GPU with exactly one producer id, and the
 * ids seen are exactly the live streamers'. A producer id only ever changes inside
 * one streamer (after an ambiguous failure), which would make this test fail, never
 * pass wrongly. Over the whole run, each GPU's records in offset order must have
 * non-decreasing processing times: a hand-over flushes before it lets go.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Admin } from "../../src/broker-client/admin.ts";
import { decodeTelemetryRecord } from "../../src/telemetry/record-codec.ts";
import { type StreamerProcess, startStreamer, waitUntil } from "../services/streamer/streamer-process.ts";
import { readTopic } from "../services/streamer/topic-records.ts";
import { type BrokerProcess, startBroker } from "../support/broker-process.ts";
import { metricValue } from "../support/prometheus.ts";
import { testBrokerToken } from "../support/test-tokens.ts";

const topic = "scaling";
const group = "scaling-streamers";
const gpuCount = 247;
const windowMs = 2_000;
/** Rebalances must settle within this (heartbeat 1 s, rebalance heartbeats 200 ms). */
const settleMsMax = 8_000;

let broker: BrokerProcess;
const streamers: StreamerProcess[] = [];

beforeAll(async () => {
  broker = await startBroker();
});
afterAll(async () => {
  await Promise.all(streamers.map((streamer) => streamer.stop()));
  await broker?.stop();
});

async function launch(name: string): Promise<StreamerProcess> {
  const streamer = await startStreamer({
    brokerUrl: broker.url,
    env: { INSTANCE_ID: name, STREAMER_TOPIC: topic, STREAMER_GROUP: group, STREAMER_RATE_ROWS_PER_S: "3000" },
  });
  streamers.push(streamer);
  await streamer.waitForLog('"msg":"streaming"');
  return streamer;
}

async function producerIdOf(streamer: StreamerProcess): Promise<number> {
  const line = await streamer.waitForLog('"msg":"streaming"');
  return (JSON.parse(line) as { producerId: number }).producerId;
}

async function ownedPartitions(streamer: StreamerProcess): Promise<number> {
  const page = await (await fetch(`${streamer.url}/metrics`)).text();
  return metricValue(page, "streamer_owned_partitions") ?? -1;
}

/** Waits until the group is stable and the live streamers split all partitions, each holding some. */
async function settle(live: StreamerProcess[]): Promise<number> {
  const admin = new Admin({ brokerUrl: broker.url, token: testBrokerToken });
  const startedAt = performance.now();
  let last = "";
  await waitUntil(
    async () => {
      const owned = await Promise.all(live.map(ownedPartitions));
      const description = await admin.describeGroup(group);
      last = `owned ${owned.join(",")}, group ${description.state} with ${description.members.length} members`;
      const total = owned.reduce((sum, count) => sum + count, 0);
      return (
        description.state === "stable" &&
        description.members.length === live.length &&
        total === 12 &&
        owned.every((count) => count > 0)
      );
    },
    () => last,
    settleMsMax,
  );
  return performance.now() - startedAt;
}

async function steadyWindow(): Promise<{ fromMs: number; toMs: number }> {
  // Records stamped before the settle may still be in flight: start the window after it.
  const fromMs = Date.now() + 200;
  await Bun.sleep(windowMs + 200);
  return { fromMs, toMs: fromMs + windowMs };
}

test("1 → 3 → 1 streamers: every GPU produced by exactly one live streamer in steady state", async () => {
  const first = await launch("streamer-a");
  await settle([first]);
  const windowOne = await steadyWindow();

  const added = await Promise.all([launch("streamer-b"), launch("streamer-c")]);
  const settleUpMs = await settle([first, ...added]);
  const windowThree = await steadyWindow();

  expect(await Promise.all(added.map((streamer) => streamer.stop()))).toEqual([0, 0]);
  const settleDownMs = await settle([first]);
  const windowBack = await steadyWindow();
  expect(await first.stop()).toBe(0);

  const ids = await Promise.all([first, ...added].map(producerIdOf));
  expect(new Set(ids).size).toBe(3);
  const records = (await readTopic(broker.url, topic)).map((record) => {
    const decoded = decodeTelemetryRecord(record.value);
    if (!decoded.ok) throw new Error(`${record.partition}/${record.offset}: ${decoded.reason}`);
    return { ...record, ts: decoded.point.ts, uuid: decoded.point.uuid };
  });

  const producersByGpu = (window: { fromMs: number; toMs: number }) => {
    const byGpu = new Map<string, Set<number>>();
    for (const record of records) {
      if (record.ts < window.fromMs || record.ts > window.toMs) continue;
      const producers = byGpu.get(record.uuid) ?? new Set<number>();
      producers.add(record.producerId);
      byGpu.set(record.uuid, producers);
    }
    return byGpu;
  };
  const checkWindow = (window: { fromMs: number; toMs: number }, liveIds: number[]) => {
    const byGpu = producersByGpu(window);
    expect(byGpu.size).toBe(gpuCount);
    const shared = [...byGpu].filter(([, producers]) => producers.size !== 1).map(([uuid]) => uuid);
    expect(shared).toEqual([]);
    const seen = new Set([...byGpu.values()].flatMap((producers) => [...producers]));
    expect([...seen].sort()).toEqual([...liveIds].sort());
  };
  checkWindow(windowOne, [ids[0]!]);
  checkWindow(windowThree, ids);
  checkWindow(windowBack, [ids[0]!]);

  // Per GPU, offsets order the records: their processing times never go back.
  const lastTsByGpu = new Map<string, { ts: number; offset: number }>();
  const backwards: string[] = [];
  for (const record of records) {
    const last = lastTsByGpu.get(record.uuid);
    if (last !== undefined && record.offset > last.offset && record.ts < last.ts)
      backwards.push(`${record.uuid}@${record.offset}`);
    lastTsByGpu.set(record.uuid, { ts: record.ts, offset: record.offset });
  }
  expect(backwards).toEqual([]);
  console.info(`rebalance settled: 1→3 in ${Math.round(settleUpMs)} ms, 3→1 in ${Math.round(settleDownMs)} ms`);
  expect(settleUpMs).toBeLessThan(settleMsMax);
  expect(settleDownMs).toBeLessThan(settleMsMax);
}, 60_000);

test("a streamer killed with SIGKILL loses its GPUs to the survivor after the session timeout", async () => {
  const killGroup = "killed-streamers";
  const env = {
    STREAMER_TOPIC: "killed",
    STREAMER_GROUP: killGroup,
    STREAMER_RATE_ROWS_PER_S: "3000",
    STREAMER_SESSION_TIMEOUT_MS: "2000",
  };
  const survivor = await startStreamer({ brokerUrl: broker.url, env: { ...env, INSTANCE_ID: "survivor" } });
  const victim = await startStreamer({ brokerUrl: broker.url, env: { ...env, INSTANCE_ID: "victim" } });
  streamers.push(survivor, victim);
  await waitUntil(
    async () =>
      (await ownedPartitions(victim)) > 0 && (await ownedPartitions(survivor)) + (await ownedPartitions(victim)) === 12,
    () => "the two streamers never split the partitions",
  );
  victim.kill("SIGKILL");
  await victim.exited;
  const killedAt = performance.now();
  await waitUntil(
    async () => (await ownedPartitions(survivor)) === 12,
    () => "the survivor never got every partition",
    10_000,
  );
  const takeOverMs = performance.now() - killedAt;
  console.info(`survivor owned every partition ${Math.round(takeOverMs)} ms after the SIGKILL`);
  const window = await steadyWindow();
  expect(await survivor.stop()).toBe(0);
  const survivorId = await producerIdOf(survivor);
  const inWindow = (await readTopic(broker.url, "killed")).filter(
    (record) => record.timestampMs >= window.fromMs && record.timestampMs <= window.toMs,
  );
  expect(new Set(inWindow.map((record) => record.key)).size).toBe(gpuCount);
  expect(new Set(inWindow.map((record) => record.producerId))).toEqual(new Set([survivorId]));
}, 30_000);
