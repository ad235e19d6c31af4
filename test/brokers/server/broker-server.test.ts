import { afterAll, beforeAll, describe, expect, setSystemTime, test } from "bun:test";
import type { GroupDescription, MemberAssignment } from "../../../src/broker-protocol/group-protocol.ts";
import { brokerFetch } from "../../support/test-tokens.ts";
import { startTestBroker, type TestBroker } from "./test-broker.ts";

const evictionCheckMs = 50;
let broker: TestBroker;
beforeAll(async () => {
  broker = await startTestBroker({ BROKER_GROUP_EVICTION_CHECK_MS: String(evictionCheckMs) });
});
afterAll(async () => {
  setSystemTime();
  await broker.cleanup();
});

async function post(path: string, body: unknown): Promise<Response> {
  return await brokerFetch(broker.url + path, {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "content-type": "application/json" },
  });
}

describe("broker clocks", () => {
  test("a wall-clock step does not evict group members: sessions run on the monotonic clock", async () => {
    const joined = await post("/v1/groups/steady/join", { clientId: "a", topics: ["events"], sessionTimeoutMs: 5_000 });
    expect(joined.status).toBe(200);
    const member = (await joined.json()) as MemberAssignment;
    // The wall clock jumps an hour ahead (an NTP step, an operator); several eviction checks run.
    setSystemTime(new Date(Date.now() + 3_600_000));
    try {
      await Bun.sleep(evictionCheckMs * 4);
      const described = (await (await brokerFetch(`${broker.url}/v1/groups/steady`)).json()) as GroupDescription;
      expect(described.members.map((each) => each.memberId)).toEqual([member.memberId]);
      expect(described.members[0]?.silentMs).toBeLessThan(5_000);
    } finally {
      setSystemTime();
    }
  });
});
