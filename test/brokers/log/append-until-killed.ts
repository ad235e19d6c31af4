/**
 * Child process for the kill -9 test: appends batches to partition 0 of topic
 * "crash" forever (several in flight), printing one line per acknowledged append:
 * `ack <baseOffset> <lastOffset> <tag>`. Arguments: dataDir flushPolicy.
 */
import { type FlushPolicy, makeLogConfig } from "../../../brokers/log/log-config.ts";
import { LogManager } from "../../../brokers/log/log-manager.ts";
import { encodeBatch } from "../../../src/broker-protocol/record-batch.ts";

const [dataDir, flush] = process.argv.slice(2) as [string, FlushPolicy];
const manager = await LogManager.open({
  dataDir,
  config: makeLogConfig({ flush, flushIntervalMs: 20, segmentBytesMax: 256 * 1024 }),
});
if (manager.topic("crash") === undefined) await manager.createTopic("crash", 1);
const log = manager.partition("crash", 0);
const inFlightMax = 8;
let sequence = 0;

async function appendLoop(worker: number): Promise<void> {
  for (;;) {
    const tag = `w${worker}-${sequence++}`;
    const records = Array.from({ length: 20 }, (_, index) => ({
      key: tag,
      value: `${tag}-${index}`.padEnd(150, "."),
      timestampMs: Date.now(),
    }));
    const result = await log.append(encodeBatch({ records, producerId: -1, baseSequence: -1, nowMs: Date.now() }));
    process.stdout.write(`ack ${result.baseOffset} ${result.lastOffset} ${tag}\n`);
  }
}

console.log("ready");
await Promise.all(Array.from({ length: inFlightMax }, (_, worker) => appendLoop(worker)));
