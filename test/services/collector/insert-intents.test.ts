import { afterAll, beforeAll, expect, test } from "bun:test";
import { InsertIntentLog, intentsTopicName, intentsWindow } from "../../../services/collector/insert-intents.ts";
import { Admin } from "../../../src/broker-client/admin.ts";
import { PartitionClient } from "../../../src/broker-client/partition-client.ts";
import { createLogger } from "../../../src/observability/logger.ts";
import { type BrokerProcess, startBroker } from "../../support/broker-process.ts";
import { testBrokerToken } from "../../support/test-tokens.ts";

let broker: BrokerProcess;
const logger = createLogger({ service: "collector-test", instanceId: "test", level: "silent" });

beforeAll(async () => {
  broker = await startBroker();
});

afterAll(async () => {
  await broker?.stop();
});

test("intents read back oldest first, from the window holding the resume offset on", async () => {
  const topic = intentsTopicName("collectors", "telemetry");
  expect(topic).toBe("telemetry.collectors.intents");
  await new Admin({ brokerUrl: broker.url, token: testBrokerToken }).createTopic(topic, 2);
  const io = new PartitionClient({ brokerUrl: broker.url, token: testBrokerToken });
  const intents = new InsertIntentLog(io, topic, () => 1_763_000_000_000, logger);
  expect(await intents.readSince(1, 0)).toEqual([]);
  await intents.write(1, [{ first: 0, last: 9 }]);
  await intents.write(1, [
    { first: 10, last: 19 },
    { first: 20, last: 24 },
  ]);
  await io.append({ topic, partition: 1, records: [{ key: "1", value: "not an intent", timestampMs: 0 }] });
  expect(await intents.readSince(1, 10)).toEqual([
    { first: 0, last: 9 },
    { first: 10, last: 19 },
    { first: 20, last: 24 },
  ]);
  expect(await intents.readSince(0, 0)).toEqual([]);
  const count = intentsWindow * 2 + 10;
  for (let index = 0; index < count; index++) await intents.write(0, [{ first: index * 10, last: index * 10 + 9 }]);
  const recent = await intents.readSince(0, (count - 5) * 10);
  expect(recent.length).toBe(intentsWindow);
  expect(recent.at(-1)).toEqual({ first: (count - 1) * 10, last: (count - 1) * 10 + 9 });
  const all = await intents.readSince(0, 0);
  expect(all.length).toBe(count);
  expect(all[0]).toEqual({ first: 0, last: 9 });
});
