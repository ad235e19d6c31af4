/**
 * Hand-overs on the shared schedule (services/streamer/schedule.ts): streamers are
 * killed with SIGKILL and restarted under the same INSTANCE_ID, killed for good,
 * stopped with SIGTERM and added, while the stream runs. Every GPU row of every pass
 * between the first and the last record must be in the topic exactly once: no
 * re-send (two records of one row of one pass) and no gap (a pass missing).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { decodeTelemetryRecord } from "../../src/telemetry/record-codec.ts";
import { type StreamerProcess, startStreamer, waitUntil } from "../services/streamer/streamer-process.ts";
import { readTopic } from "../services/streamer/topic-records.ts";
import { type BrokerProcess, startBroker } from "../support/broker-process.ts";
import { metricValue } from "../support/prometheus.ts";

const topic = "handover";
const group = "handover-streamers";
/** The sample's 2,470 rows at 5,000 rows/s: a pass every 494 ms, each (GPU, metric) once a pass. */
const rateRowsPerS = 5_000;
const passMs = (2_470 * 1_000) / rateRowsPerS;

let broker: BrokerProcess;
const running = new Set<StreamerProcess>();

beforeAll(async () => {
  broker = await startBroker();
});
afterAll(async () => {
  await Promise.all([...running].map((streamer) => streamer.stop()));
  await broker?.stop();
});

async function launch(instance: string): Promise<StreamerProcess> {
  const streamer = await startStreamer({
    brokerUrl: broker.url,
    env: {
      INSTANCE_ID: instance,
      STREAMER_TOPIC: topic,
      STREAMER_GROUP: group,
      STREAMER_RATE_ROWS_PER_S: String(rateRowsPerS),
    },
  });
  running.add(streamer);
  await streamer.waitForLog('"msg":"streaming"');
  return streamer;
}

async function kill(streamer: StreamerProcess): Promise<void> {
  streamer.kill("SIGKILL");
  await streamer.exited;
  running.delete(streamer);
}

async function ownedPartitions(streamers: StreamerProcess[]): Promise<number> {
  let owned = 0;
  for (const streamer of streamers) {
    const page = await (await fetch(`${streamer.url}/metrics`)).text();
    owned += metricValue(page, "streamer_owned_partitions") ?? 0;
  }
  return owned;
}

test("kills, restarts, a death and scaling: no row is sent twice and no pass is missing", async () => {
  let one = await launch("streamer-1");
  const two = await launch("streamer-2");
  await Bun.sleep(1_500);
  // Restarted at once under the same identity, three times: it takes its GPUs back and goes on.
  for (let round = 0; round < 3; round += 1) {
    await kill(one);
    one = await launch("streamer-1");
    await Bun.sleep(1_000 + round * 300);
  }
  // Killed for good: the other takes its GPUs after the session and catches up.
  await kill(two);
  await waitUntil(
    async () => (await ownedPartitions([one])) === 12,
    () => "the survivor never owned every partition",
    10_000,
  );
  await Bun.sleep(1_000);
  // A graceful stop and a newcomer.
  const three = await launch("streamer-3");
  await Bun.sleep(1_500);
  expect(await one.stop()).toBe(0);
  running.delete(one);
  await waitUntil(
    async () => (await ownedPartitions([three])) === 12,
    () => "the newcomer never owned every partition",
    10_000,
  );
  await Bun.sleep(1_000);
  expect(await three.stop()).toBe(0);
  running.delete(three);

  const series = new Map<string, number[]>();
  let records = 0;
  for (const record of await readTopic(broker.url, topic)) {
    const decoded = decodeTelemetryRecord(record.value);
    if (!decoded.ok) throw new Error(`${record.partition}/${record.offset}: ${decoded.reason}`);
    const key = `${decoded.point.uuid}|${decoded.point.metric}`;
    const times = series.get(key) ?? [];
    times.push(decoded.point.ts);
    series.set(key, times);
    records += 1;
  }
  expect(series.size).toBe(2_470);
  let resent = 0;
  let longestStepMs = 0;
  const gaps: string[] = [];
  for (const [key, times] of series) {
    // Offsets order a GPU's records; each of its rows comes once a pass, one pass apart.
    for (let index = 1; index < times.length; index += 1) {
      const stepMs = (times[index] as number) - (times[index - 1] as number);
      if (stepMs <= 0) resent += 1;
      longestStepMs = Math.max(longestStepMs, stepMs);
      if (stepMs > passMs + 1) gaps.push(`${key} ${stepMs} ms at ${times[index - 1]}`);
    }
  }
  console.info(`${records} records, ${series.size} series, longest step ${longestStepMs} ms (a pass is ${passMs} ms)`);
  expect(resent).toBe(0);
  expect(gaps.slice(0, 10)).toEqual([]);
}, 120_000);
