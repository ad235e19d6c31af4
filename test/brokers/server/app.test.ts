import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ErrorBody, ProduceResponse, TopicInfo } from "../../../src/broker-protocol/api-schemas.ts";
import { FetchHeader } from "../../../src/broker-protocol/headers.ts";
import { encodeProduceFrames, type PartitionBatch } from "../../../src/broker-protocol/produce-frames.ts";
import { decodeRecords, encodeBatch } from "../../../src/broker-protocol/record-batch.ts";
import { brokerRoutes } from "../../../src/broker-protocol/routes.ts";
import { brokerFetch } from "../../support/test-tokens.ts";
import { startTestBroker, type TestBroker } from "./test-broker.ts";

function batchOf(values: string[], producer: { id: number; sequence: number } = { id: -1, sequence: -1 }) {
  const records = values.map((value, index) => ({ key: `k${index}`, value, timestampMs: 1_700_000_000_000 + index }));
  return encodeBatch({ records, producerId: producer.id, baseSequence: producer.sequence, nowMs: 0 });
}

async function produce(url: string, topic: string, frames: PartitionBatch[]): Promise<Response> {
  return await brokerFetch(`${url}/v1/topics/${topic}/produce`, {
    method: "POST",
    body: encodeProduceFrames(frames),
    headers: { "content-type": "application/octet-stream" },
  });
}

async function createTopic(url: string, name: string, partitions: number): Promise<Response> {
  return await brokerFetch(`${url}/v1/topics`, {
    method: "POST",
    body: JSON.stringify({ name, partitions }),
    headers: { "content-type": "application/json" },
  });
}

describe("broker HTTP API", () => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startTestBroker({ BROKER_AUTO_CREATE_TOPICS: "false", BROKER_BATCH_BYTES_MAX: "4096" });
    expect((await createTopic(broker.url, "t", 3)).status).toBe(201);
  });
  afterAll(async () => await broker.cleanup());

  test("produce to several partitions in one request, then fetch raw batches back", async () => {
    const response = await produce(broker.url, "t", [
      { partition: 0, batch: batchOf(["a", "b"]) },
      { partition: 2, batch: batchOf(["c"]) },
      { partition: 0, batch: batchOf(["d"]) },
    ]);
    expect(response.status).toBe(200);
    const body = (await response.json()) as ProduceResponse;
    expect(body.results).toEqual([
      { partition: 0, baseOffset: 0, lastOffset: 1, duplicate: false },
      { partition: 2, baseOffset: 0, lastOffset: 0, duplicate: false },
      { partition: 0, baseOffset: 2, lastOffset: 2, duplicate: false },
    ]);
    const fetched = await brokerFetch(`${broker.url}/v1/topics/t/partitions/0/fetch?offset=1`);
    expect(fetched.status).toBe(200);
    expect(fetched.headers.get("content-type")).toBe("application/octet-stream");
    expect(fetched.headers.get(FetchHeader.highWatermark)).toBe("3");
    expect(fetched.headers.get(FetchHeader.logStartOffset)).toBe("0");
    expect(fetched.headers.get(FetchHeader.nextOffset)).toBe("3");
    const records = decodeRecords(new Uint8Array(await fetched.arrayBuffer()));
    // Whole batches: the first starts before the requested offset; the client skips those.
    expect(records.map((r) => [r.offset, new TextDecoder().decode(r.value)])).toEqual([
      [0, "a"],
      [1, "b"],
      [2, "d"],
    ]);
  });

  test("a fetch at the end of the log long-polls and wakes on append", async () => {
    const startedMs = performance.now();
    const pending = brokerFetch(`${broker.url}/v1/topics/t/partitions/1/fetch?offset=0&wait_ms=10000`);
    await Bun.sleep(100);
    expect((await produce(broker.url, "t", [{ partition: 1, batch: batchOf(["late"]) }])).status).toBe(200);
    const fetched = await pending;
    const records = decodeRecords(new Uint8Array(await fetched.arrayBuffer()));
    expect(records.map((r) => r.offset)).toEqual([0]);
    expect(performance.now() - startedMs).toBeLessThan(5_000);
  });

  test("a long-poll with nothing arriving answers empty after wait_ms", async () => {
    const fetched = await brokerFetch(`${broker.url}/v1/topics/t/partitions/1/fetch?offset=1&wait_ms=50`);
    expect(fetched.status).toBe(200);
    expect((await fetched.arrayBuffer()).byteLength).toBe(0);
    expect(fetched.headers.get(FetchHeader.nextOffset)).toBe("1");
  });

  test("idempotent producer: the same batch twice is appended once", async () => {
    const allocated = (await (await brokerFetch(`${broker.url}/v1/producers`, { method: "POST" })).json()) as {
      producerId: number;
    };
    const producer = { id: allocated.producerId, sequence: 0 };
    const first = (await (
      await produce(broker.url, "t", [{ partition: 2, batch: batchOf(["x", "y"], producer) }])
    ).json()) as ProduceResponse;
    const again = (await (
      await produce(broker.url, "t", [{ partition: 2, batch: batchOf(["x", "y"], producer) }])
    ).json()) as ProduceResponse;
    expect(again.results[0]).toEqual({ ...first.results[0]!, duplicate: true });
    const gap = (await (
      await produce(broker.url, "t", [{ partition: 2, batch: batchOf(["z"], { id: producer.id, sequence: 5 }) }])
    ).json()) as ProduceResponse;
    expect(gap.results[0]).toMatchObject({ partition: 2, error: "out_of_order_sequence", retryable: false });
  });

  test("errors carry {error, message, retryable} and the right status", async () => {
    const unknownTopic = await produce(broker.url, "nope", [{ partition: 0, batch: batchOf(["a"]) }]);
    expect(unknownTopic.status).toBe(404);
    expect((await unknownTopic.json()) as ErrorBody).toMatchObject({ error: "unknown_topic", retryable: false });

    const badFrame = await brokerFetch(`${broker.url}/v1/topics/t/produce`, {
      method: "POST",
      body: new Uint8Array([0, 0, 0]),
    });
    expect(badFrame.status).toBe(400);

    const corrupt = batchOf(["a"]);
    corrupt[corrupt.length - 1] = (corrupt[corrupt.length - 1] ?? 0) ^ 0xff;
    const corruptAnswer = await produce(broker.url, "t", [{ partition: 0, batch: corrupt }]);
    expect(corruptAnswer.status).toBe(400);
    expect((await corruptAnswer.json()) as ErrorBody).toMatchObject({ error: "corrupt_batch", retryable: false });

    const noPartition = (await (
      await produce(broker.url, "t", [{ partition: 9, batch: batchOf(["a"]) }])
    ).json()) as ProduceResponse;
    expect(noPartition.results[0]).toMatchObject({ error: "unknown_partition" });

    const outOfRange = await brokerFetch(`${broker.url}/v1/topics/t/partitions/0/fetch?offset=999`);
    expect(outOfRange.status).toBe(416);
    expect(await outOfRange.json()).toMatchObject({
      error: "offset_out_of_range",
      logStartOffset: 0,
      highWatermark: 3,
    });

    const badQuery = await brokerFetch(`${broker.url}/v1/topics/t/partitions/0/fetch?offset=-1`);
    expect(badQuery.status).toBe(400);
    expect(await badQuery.json()).toMatchObject({ error: "bad_request", retryable: false });

    expect((await brokerFetch(`${broker.url}/v1/topics/t/partitions/7/fetch?offset=0`)).status).toBe(404);
    expect((await createTopic(broker.url, "t", 3)).status).toBe(409);
  });

  test("a batch over batchBytesMax is refused with 413-class batch_too_large", async () => {
    const big = batchOf(["x".repeat(5000)]);
    const answer = (await (await produce(broker.url, "t", [{ partition: 0, batch: big }])).json()) as ProduceResponse;
    expect(answer.results[0]).toMatchObject({ error: "batch_too_large", retryable: false });
  });

  test("topics list and describe show per-partition watermarks and sizes", async () => {
    const list = await (await brokerFetch(`${broker.url}/v1/topics`)).json();
    expect(list).toEqual({ topics: [{ name: "t", partitions: 3 }] });
    const info = (await (await brokerFetch(`${broker.url}/v1/topics/t`)).json()) as TopicInfo;
    expect(info.partitions.map((p) => p.highWatermark)).toEqual([3, 1, 3]);
    expect(info.partitions.every((p) => p.sizeBytes > 0)).toBe(true);
  });

  test("producer ids are unique", async () => {
    const ids = [];
    for (let index = 0; index < 3; index += 1) {
      ids.push(
        ((await (await brokerFetch(`${broker.url}/v1/producers`, { method: "POST" })).json()) as { producerId: number })
          .producerId,
      );
    }
    expect(new Set(ids).size).toBe(3);
  });

  test("the broker serves exactly the routes of the protocol's table (paths declared once)", async () => {
    const document = (await (await fetch(`${broker.url}/swagger/json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const served = Object.entries(document.paths)
      .filter(([path]) => path.startsWith("/v1/"))
      .flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`));
    const declared = Object.values(brokerRoutes).map(
      (route) => `${route.method} ${route.path.replace(/:([A-Za-z_]+)/g, "{$1}")}`,
    );
    expect(served.sort()).toEqual(declared.sort());
  });

  test("the document names each route's scopes as its security (one bearer scheme per scope); ops routes are open", async () => {
    const document = (await (await fetch(`${broker.url}/swagger/json`)).json()) as {
      paths: Record<string, Record<string, { security?: Record<string, string[]>[] }>>;
      components: { securitySchemes: Record<string, { type: string; scheme: string }> };
    };
    expect(Object.keys(document.components.securitySchemes).sort()).toEqual(["admin", "consume", "produce"]);
    for (const scheme of Object.values(document.components.securitySchemes)) {
      expect(scheme).toMatchObject({ type: "http", scheme: "bearer" });
    }
    for (const route of Object.values(brokerRoutes)) {
      const operation = document.paths[route.path.replace(/:([A-Za-z_]+)/g, "{$1}")]?.[route.method.toLowerCase()];
      expect({ route: route.path, security: operation?.security }).toEqual({
        route: route.path,
        security: route.scopes.map((scope) => ({ [scope]: [] })),
      });
    }
    for (const path of ["/health", "/ready", "/metrics"]) expect(document.paths[path]?.get?.security).toEqual([]);
  });

  test("path and query integers arrive as text and are checked as integers", async () => {
    const fetchOf = (partition: string, query: string) =>
      brokerFetch(`${broker.url}/v1/topics/t/partitions/${partition}/fetch?${query}`);
    expect((await fetchOf("1", "offset=0&max_bytes=1024&wait_ms=0")).status).toBe(200);
    for (const [partition, query] of [
      ["1", "offset=1.5"],
      ["1", "offset=abc"],
      ["1", "offset=0&max_bytes=0"],
      ["x", "offset=0"],
      ["-1", "offset=0"],
      ["1", "wait_ms=5"],
    ] as const) {
      const answer = await fetchOf(partition, query);
      expect({ partition, query, status: answer.status }).toEqual({ partition, query, status: 400 });
      expect(await answer.json()).toMatchObject({ error: "bad_request", retryable: false });
    }
  });

  test("swagger documents the broker routes; /metrics has broker series", async () => {
    const document = (await (await fetch(`${broker.url}/swagger/json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining([
        "/v1/topics/{topic}/produce",
        "/v1/topics/{topic}/partitions/{partition}/fetch",
        "/v1/groups/{group}/join",
      ]),
    );
    const metrics = await (await fetch(`${broker.url}/metrics`)).text();
    expect(metrics).toContain('broker_produce_records_total{topic="t"');
    expect(metrics).toContain("broker_log_size_bytes");
    expect(metrics).toContain("broker_request_duration_seconds_bucket");
    expect((await fetch(`${broker.url}/health`)).status).toBe(200);
    expect((await fetch(`${broker.url}/ready`)).status).toBe(200);
  });
});

describe("broker limits", () => {
  test("a request over requestBytesMax gets 413 request_too_large", async () => {
    const broker = await startTestBroker({ BROKER_REQUEST_BYTES_MAX: "2048" });
    try {
      const response = await produce(broker.url, "t", [{ partition: 0, batch: batchOf(["x".repeat(3000)]) }]);
      expect(response.status).toBe(413);
      expect(await response.json()).toMatchObject({ error: "request_too_large", retryable: false });
    } finally {
      await broker.cleanup();
    }
  });

  test("over the memory watermark a produce gets 429 slow_down with retry-after, retryable", async () => {
    const broker = await startTestBroker({ BROKER_IN_FLIGHT_BYTES_MAX: "1024", BROKER_RETRY_AFTER_MS: "250" });
    try {
      const batch = encodeProduceFrames([{ partition: 0, batch: batchOf(["x".repeat(600)]) }]);
      // The first request's body trickles in: its bytes are held while the second arrives.
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const body = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(batch.subarray(0, 10));
          await gate;
          controller.enqueue(batch.subarray(10));
          controller.close();
        },
      });
      const slow = brokerFetch(`${broker.url}/v1/topics/t/produce`, {
        method: "POST",
        body,
        headers: { "content-length": String(batch.length) },
      });
      await Bun.sleep(200);
      const refused = await brokerFetch(`${broker.url}/v1/topics/t/produce`, { method: "POST", body: batch });
      expect(refused.status).toBe(429);
      expect(refused.headers.get("retry-after")).toBe("1");
      expect(await refused.json()).toMatchObject({ error: "slow_down", retryable: true, retryAfterMs: 250 });
      release();
      expect((await slow).status).toBe(200);
    } finally {
      await broker.cleanup();
    }
  });

  test("below the disk watermark a produce gets 503 disk_full, retryable", async () => {
    const broker = await startTestBroker({ BROKER_DISK_FREE_BYTES_MIN: String(Number.MAX_SAFE_INTEGER) });
    try {
      const response = await produce(broker.url, "t", [{ partition: 0, batch: batchOf(["a"]) }]);
      expect(response.status).toBe(503);
      expect(response.headers.get("retry-after")).not.toBeNull();
      expect(await response.json()).toMatchObject({ error: "disk_full", retryable: true });
    } finally {
      await broker.cleanup();
    }
  });
});
