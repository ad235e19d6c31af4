import { afterEach, describe, expect, test } from "bun:test";
import { BrokerHttp } from "../../../src/broker-client/http-client.ts";
import { brokerRoutes, routeRequest } from "../../../src/broker-protocol/routes.ts";
import { testBrokerToken } from "../../support/test-tokens.ts";

const servers: Array<ReturnType<typeof Bun.serve>> = [];
afterEach(() => {
  while (servers.length > 0) servers.pop()!.stop(true);
});

describe("BrokerHttp", () => {
  // The producer reuses one body buffer for every produce request: it relies on this.
  test("the request body is copied before request() returns, so the caller may overwrite its buffer", async () => {
    const server = Bun.serve({
      port: 0,
      async fetch(request) {
        const body = new Uint8Array(await request.arrayBuffer());
        return Response.json({ length: body.length, allOnes: body.every((byte) => byte === 1) });
      },
    });
    servers.push(server);
    const http = new BrokerHttp({ brokerUrl: `http://127.0.0.1:${server.port}`, token: testBrokerToken });
    for (const sizeBytes of [100, 1024 * 1024, 8 * 1024 * 1024]) {
      const buffer = new Uint8Array(sizeBytes).fill(1);
      const pending = http.request(routeRequest(brokerRoutes.produce, { topic: "t" }), {
        body: buffer,
        contentType: "application/octet-stream",
      });
      buffer.fill(2);
      expect(await (await pending).json()).toEqual({ length: sizeBytes, allOnes: true });
    }
  });
});
