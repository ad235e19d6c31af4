import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { headerBytesMax, oversizedRequest, urlBytesMax } from "../../../src/http/request-limits.ts";
import { type BrokerProcess, startBroker } from "../../support/broker-process.ts";
import { brokerFetch } from "../../support/test-tokens.ts";

describe("oversizedRequest", () => {
  test("passes requests within the limits and names the one over", async () => {
    expect(oversizedRequest(new Request(`http://h/${"a".repeat(urlBytesMax - 1)}`))).toBeUndefined();
    const long = oversizedRequest(new Request(`http://h/${"a".repeat(urlBytesMax)}`))!;
    expect(long.status).toBe(414);
    expect(await long.json()).toEqual({
      error: "uri_too_long",
      message: `request target of ${urlBytesMax + 1} bytes exceeds ${urlBytesMax}`,
      retryable: false,
    });
    const headers = { "x-a": "a".repeat(headerBytesMax) };
    expect(oversizedRequest(new Request("http://h/", { headers }))?.status).toBe(431);
  });
});

describe("a real broker process answers oversized requests as JSON", () => {
  let broker: BrokerProcess;
  beforeAll(async () => {
    broker = await startBroker();
  });
  afterAll(async () => await broker.stop());

  test("100 KB topic name: 414 JSON; 100 KB header: 431 JSON; the broker still serves", async () => {
    const longName = await brokerFetch(`${broker.url}/v1/topics/${"t".repeat(100_000)}`);
    expect(longName.status).toBe(414);
    expect(((await longName.json()) as { error: string }).error).toBe("uri_too_long");
    const bigHeader = await brokerFetch(`${broker.url}/v1/topics`, { headers: { cookie: "c".repeat(100_000) } });
    expect(bigHeader.status).toBe(431);
    expect(((await bigHeader.json()) as { error: string }).error).toBe("headers_too_large");
    expect((await fetch(`${broker.url}/health`)).status).toBe(200);
  });
});
