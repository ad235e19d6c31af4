import { afterAll, beforeAll, expect, test } from "bun:test";
import { Admin } from "../../../src/broker-client/admin.ts";
import { startTestBroker, type TestBroker } from "../../brokers/server/test-broker.ts";
import { freePort } from "../../support/free-port.ts";
import { testBrokerToken } from "../../support/test-tokens.ts";

let broker: TestBroker;
beforeAll(async () => {
  broker = await startTestBroker({ BROKER_AUTO_CREATE_TOPICS: "false" });
});
afterAll(async () => await broker.cleanup());

test("answers() is true for a live broker and false, not an error, where nothing listens", async () => {
  expect(await new Admin({ brokerUrl: broker.url, token: testBrokerToken }).answers(1_000)).toBe(true);
  const nobody = `http://127.0.0.1:${await freePort()}`;
  expect(await new Admin({ brokerUrl: nobody, token: testBrokerToken }).answers(1_000)).toBe(false);
});

test("ensureTopic creates a topic once and describes it after; groups list and describe go through the table", async () => {
  const admin = new Admin({ brokerUrl: broker.url, token: testBrokerToken });
  expect((await admin.ensureTopic("made", 2)).partitions.length).toBe(2);
  expect((await admin.ensureTopic("made", 5)).partitions.length).toBe(2);
  expect((await admin.listTopics()).topics).toEqual([{ name: "made", partitions: 2 }]);
  expect((await admin.listGroups()).groups).toEqual([]);
  await expect(admin.describeGroup("nobody")).rejects.toMatchObject({ code: "unknown_group", status: 404 });
});
