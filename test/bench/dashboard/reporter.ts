/**
 * A child process of bench:dashboard: GPUs [0, count) each report their 10 metrics
 * once a second through the broker, as streamers would, stamped when sent. Runs until
 * killed (SIGTERM); prints the datapoints it sent, one JSON line.
 *
 *   BROKER_TOKEN=<token> bun reporter.ts <broker url> <gpu count>
 */
import { Producer } from "../../../src/broker-client/producer.ts";
import { stampRecord } from "../../../src/telemetry/record-codec.ts";
import { benchTails } from "./bench-gpus.ts";

const [brokerUrl = "", countText = "0"] = process.argv.slice(2);
const records = benchTails(0, Number(countText));
const producer = await Producer.create({ brokerUrl, token: process.env.BROKER_TOKEN, topic: "telemetry", lingerMs: 5 });
let running = true;
let sent = 0;
process.on("SIGTERM", () => {
  running = false;
});
while (running) {
  const startedMs = performance.now();
  const nowMs = Date.now();
  const sends: Promise<void>[] = [];
  for (const record of records) sends.push(producer.send({ key: record.key, value: stampRecord(nowMs, record.tail) }));
  await Promise.all(sends);
  await producer.flush();
  sent += records.length;
  await Bun.sleep(Math.max(0, 1_000 - (performance.now() - startedMs)));
}
await producer.close();
process.stdout.write(`${JSON.stringify({ sent })}\n`);
