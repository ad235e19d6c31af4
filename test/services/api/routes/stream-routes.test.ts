import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ApiApp, createApiApp } from "../../../../services/api/app.ts";
import { StreamHub } from "../../../../services/api/live/stream-hub.ts";
import { TailStore } from "../../../../services/api/live/tail-store.ts";
import { insertDatapoints } from "../../../../src/clickhouse/datapoints-insert.ts";
import { createFetchReader } from "../../../../src/clickhouse/fetch-reader.ts";
import { createLogger } from "../../../../src/observability/logger.ts";
import { createMetricsRegistry, type Registry } from "../../../../src/observability/metrics.ts";
import { type ApiFixture, gpuA, gpuC, power, startApiFixture, testApiAccess, utilization } from "../api-fixture.ts";

/** Server-sent events over a real socket: what a browser's EventSource reads. */

interface Served {
  url: string;
  hub: StreamHub;
  registry: Registry;
  stop(): void;
}

let fixture: ApiFixture;
const servers: Served[] = [];

beforeAll(async () => {
  fixture = await startApiFixture();
});
afterAll(async () => {
  for (const served of servers) served.stop();
  await fixture?.stop();
});

function serve(options: { streamsMax?: number; bufferBytesMax?: number; live?: boolean } = {}): Served {
  const registry = createMetricsRegistry({ service: "api", instanceId: "stream-test" });
  const logger = createLogger({ service: "api", instanceId: "stream-test", level: "silent" });
  const hub = new StreamHub({
    streamsMax: options.streamsMax ?? 10,
    bufferBytesMax: options.bufferBytesMax ?? 1 << 20,
    heartbeatMs: 200,
    registry,
    logger,
  });
  const store = new TailStore({ spanMs: 60_000, rowsMax: 1_000 });
  const reader = createFetchReader({
    url: fixture.clickhouse.url,
    username: "default",
    password: fixture.clickhouse.password,
    database: "api_test",
    requestTimeoutMs: 10_000,
  });
  const app: ApiApp = createApiApp({
    clickhouse: fixture.client,
    reader,
    logger,
    registry,
    clock: Date.now,
    limits: { listCacheTtlMs: 0 },
    hub,
    live: options.live === false ? undefined : store,
    // Streams as such; the read scope on them is the 401/403 matrix's and the cookie test's.
    access: testApiAccess(true),
  });
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (request) => app.handle(request) });
  const served = { url: `http://127.0.0.1:${server.port}`, hub, registry, stop: () => server.stop(true) };
  servers.push(served);
  return served;
}

/** Reads events off a stream until `until` is satisfied or the stream ends. */
async function readEvents(
  response: Response,
  until: (events: { event: string; data: string }[]) => boolean,
  timeoutMs = 5_000,
): Promise<{ event: string; data: string }[]> {
  const reader = response.body?.getReader();
  if (reader === undefined) throw new Error("no body");
  const events: { event: string; data: string }[] = [];
  const decoder = new TextDecoder();
  let text = "";
  const deadline = setTimeout(() => reader.cancel(), timeoutMs);
  try {
    while (!until(events)) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      let boundary = text.indexOf("\n\n");
      while (boundary !== -1) {
        const block = text.slice(0, boundary);
        text = text.slice(boundary + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event !== undefined && data !== undefined) events.push({ event, data });
        boundary = text.indexOf("\n\n");
      }
    }
  } finally {
    clearTimeout(deadline);
    await reader.cancel().catch(() => undefined);
  }
  return events;
}

describe("GET /api/v1/fleet/stream", () => {
  test("starts with the snapshot GET /api/v1/fleet gives, then sends only what changed", async () => {
    const served = serve();
    const query = `metric=${utilization},${power}`;
    const expected = (await (await fetch(`${served.url}/api/v1/fleet?${query}`)).json()) as {
      items: { uuid: string }[];
    };
    const response = await fetch(`${served.url}/api/v1/fleet/stream?${query}`);
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const insert = async () => {
      await Bun.sleep(300);
      const ts = Date.now();
      await insertDatapoints(
        fixture.client,
        [
          {
            ...gpuC,
            ts,
            source_ts: ts,
            device: "nvidia0",
            model: "NVIDIA H100 80GB HBM3",
            metric: power,
            value: 1234.5,
            container: "",
            pod: "",
            namespace: "",
            labels: {},
          },
        ],
        { dedupToken: `stream-test/${ts}` },
      );
    };
    const [events] = await Promise.all([
      readEvents(response, (seen) => seen.some((e) => e.event === "changes")),
      insert(),
    ]);
    expect(events[0]?.event).toBe("snapshot");
    const snapshot = JSON.parse(events[0]?.data ?? "{}");
    expect(snapshot.items.map((gpu: { uuid: string }) => gpu.uuid)).toEqual(
      expected.items.map((gpu: { uuid: string }) => gpu.uuid),
    );
    const changes = JSON.parse(events.find((event) => event.event === "changes")?.data ?? "{}");
    expect(changes.items.map((gpu: { uuid: string }) => gpu.uuid)).toEqual([gpuC.uuid]);
    expect(changes.items[0].values).toEqual([null, 1234.5]);
    expect(changes.removed).toEqual([]);
  });

  test("an interval under a second is refused", async () => {
    const served = serve();
    const response = await fetch(`${served.url}/api/v1/fleet/stream?interval_ms=200`);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { details: { field: string }[] }).details[0]?.field).toBe("interval_ms");
  });
});

describe("GET /api/v1/datapoints/stream", () => {
  test("sends each subscriber the visible datapoints of its GPUs and metrics only", async () => {
    const served = serve();
    const response = await fetch(`${served.url}/api/v1/datapoints/stream?gpu=${gpuA.uuid}&metric=${utilization}`);
    expect(response.status).toBe(200);
    const publish = async () => {
      await Bun.sleep(200);
      served.hub.publish([
        { gpu: gpuA.uuid, tsMs: 1_000, metric: power, sourceTsMs: 900, value: 1 },
        { gpu: gpuC.uuid, tsMs: 1_000, metric: utilization, sourceTsMs: 900, value: 2 },
        { gpu: gpuA.uuid, tsMs: 2_000, metric: utilization, sourceTsMs: 1_900, value: 3 },
      ]);
    };
    const [events] = await Promise.all([readEvents(response, (seen) => seen.length >= 2), publish()]);
    expect(events.map((event) => event.event)).toEqual(["subscribed", "datapoints"]);
    expect(JSON.parse(events[1]?.data ?? "{}")).toEqual({
      items: [
        {
          gpu: gpuA.uuid,
          timestamp: "1970-01-01T00:00:02.000Z",
          metric: utilization,
          value: 3,
          unit: "%",
          source_timestamp: "1970-01-01T00:00:01.900Z",
          namespace: "",
          pod: "",
          container: "",
        },
      ],
    });
  });

  test("hostname:index is resolved; an unknown one is a 404; without the broker a 503", async () => {
    const served = serve();
    const response = await fetch(`${served.url}/api/v1/datapoints/stream?gpu=host-a:0`);
    const [subscribed] = await readEvents(response, (seen) => seen.length >= 1);
    expect(JSON.parse(subscribed?.data ?? "{}").gpus).toEqual([gpuA.uuid]);
    expect((await fetch(`${served.url}/api/v1/datapoints/stream?gpu=host-x:0`)).status).toBe(404);
    expect((await fetch(`${served.url}/api/v1/datapoints/stream`)).status).toBe(400);
    const withoutBroker = serve({ live: false });
    const refused = await fetch(`${withoutBroker.url}/api/v1/datapoints/stream?gpu=${gpuA.uuid}`);
    expect(refused.status).toBe(503);
  });
});

describe("stream limits", () => {
  test("past streamsMax a stream is refused with 503 and Retry-After; a closed one frees its place", async () => {
    const served = serve({ streamsMax: 2 });
    const url = `${served.url}/api/v1/datapoints/stream?gpu=${gpuA.uuid}`;
    const first = await fetch(url);
    const second = await fetch(url);
    expect([first.status, second.status]).toEqual([200, 200]);
    const third = await fetch(url);
    expect(third.status).toBe(503);
    expect(third.headers.get("retry-after")).not.toBeNull();
    expect(((await third.json()) as { error: string }).error).toBe("unavailable");
    await first.body?.cancel();
    await Bun.sleep(200);
    expect(served.hub.size).toBe(1);
    const fourth = await fetch(url);
    expect(fourth.status).toBe(200);
    await Promise.all([second.body?.cancel(), fourth.body?.cancel()]);
  });

  test("a client that stops reading is dropped once its buffer is full; the others go on", async () => {
    const served = serve({ bufferBytesMax: 65_536 });
    const { port } = new URL(served.url);
    // A raw socket that sends the request and never reads: its kernel buffers fill, then ours.
    const stalled = await Bun.connect({
      hostname: "127.0.0.1",
      port: Number(port),
      socket: {
        data() {},
        open(socket) {
          socket.write(`GET /api/v1/datapoints/stream?gpu=${gpuA.uuid} HTTP/1.1\r\nHost: test\r\n\r\n`);
        },
      },
    });
    stalled.pause();
    const reading = await fetch(`${served.url}/api/v1/datapoints/stream?gpu=${gpuC.uuid}`);
    await Bun.sleep(200);
    expect(served.hub.size).toBe(2);
    const rows = Array.from({ length: 500 }, (_, index) => ({
      gpu: gpuA.uuid,
      tsMs: index,
      metric: utilization,
      sourceTsMs: index,
      value: index,
    }));
    for (let round = 0; round < 400 && served.hub.size > 1; round += 1) {
      served.hub.publish(rows);
      await Bun.sleep(5);
    }
    expect(served.hub.size).toBe(1);
    expect(await served.registry.getSingleMetricAsString("api_streams_closed_total")).toContain('reason="overflow"');
    served.hub.publish([{ gpu: gpuC.uuid, tsMs: 5, metric: utilization, sourceTsMs: 5, value: 5 }]);
    const events = await readEvents(reading, (seen) => seen.some((event) => event.event === "datapoints"));
    expect(events.at(-1)?.event).toBe("datapoints");
    stalled.end();
  });

  test("closeAll ends every stream with an end event and refuses new ones", async () => {
    const served = serve();
    const response = await fetch(`${served.url}/api/v1/fleet/stream`);
    const closing = (async () => {
      await Bun.sleep(300);
      served.hub.closeAll("shutdown");
    })();
    const events = await readEvents(response, () => false);
    await closing;
    expect(events[0]?.event).toBe("snapshot");
    expect(events.at(-1)).toEqual({ event: "end", data: '{"reason":"shutdown"}' });
    expect((await fetch(`${served.url}/api/v1/fleet/stream`)).status).toBe(503);
  });
});
