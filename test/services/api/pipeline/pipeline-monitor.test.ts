import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parsePeers, probeUrl } from "../../../../services/api/pipeline/peer-probes.ts";
import { PipelineMonitor, ratePerSecond } from "../../../../services/api/pipeline/pipeline-monitor.ts";
import { pipelineStatus } from "../../../../services/api/routes/pipeline-routes.ts";
import { BrokerHttp } from "../../../../src/broker-client/http-client.ts";
import { createLogger } from "../../../../src/observability/logger.ts";
import { ManualClock } from "../../../../src/runtime/clock.ts";
import { type BrokerProcess, startBroker } from "../../../support/broker-process.ts";
import { freePort } from "../../../support/free-port.ts";
import { testBrokerToken } from "../../../support/test-tokens.ts";
import { createTopic, produceRecords } from "../../collector/telemetry-fixture.ts";

let broker: BrokerProcess;
beforeAll(async () => {
  broker = await startBroker();
  await createTopic(broker.url, "telemetry", 3);
  await createTopic(broker.url, "telemetry.dlq", 1);
});
afterAll(async () => {
  await broker?.stop();
});

const logger = createLogger({ service: "api", instanceId: "test", level: "silent" });

describe("API_PEER_URLS", () => {
  test("name=url pairs; a bare URL is probed at /ready, one with a path as it is", () => {
    const peers = parsePeers(" broker=http://127.0.0.1:9092/ , clickhouse=http://ch:8123/ping,");
    expect(peers).toEqual([
      { name: "broker", url: "http://127.0.0.1:9092" },
      { name: "clickhouse", url: "http://ch:8123/ping" },
    ]);
    expect(peers.map(probeUrl)).toEqual(["http://127.0.0.1:9092/ready", "http://ch:8123/ping"]);
    expect(parsePeers("")).toEqual([]);
  });

  test("a malformed entry or a name used twice is refused, naming it", () => {
    expect(() => parsePeers("broker")).toThrow('"broker" is not name=http(s)');
    expect(() => parsePeers("b=ftp://x")).toThrow("is not name=");
    expect(() => parsePeers("b=http://x,b=http://y")).toThrow("twice");
  });
});

describe("PipelineMonitor", () => {
  test("samples produced, committed and dead-lettered records and probes the peers", async () => {
    const clock = new ManualClock(1_000_000);
    const closedPort = await freePort();
    const self = { name: "api", ready: async () => true };
    const monitor = new PipelineMonitor({
      http: new BrokerHttp({ brokerUrl: broker.url, token: testBrokerToken }),
      topic: "telemetry",
      group: "collectors",
      deadLetterTopic: "telemetry.dlq",
      peers: parsePeers(`broker=${broker.url},collector-1=http://127.0.0.1:${closedPort}`),
      self,
      sampleMs: 1_000,
      probeEveryMs: 0,
      historyMax: 3,
      probeTimeoutMs: 1_000,
      clock: clock.now,
      logger,
    });
    await monitor.sample();
    await produceRecords(
      broker.url,
      "telemetry",
      Array.from({ length: 90 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })),
    );
    await produceRecords(broker.url, "telemetry.dlq", [{ key: "k", value: "bad" }]);
    clock.advance(2_000);
    await monitor.sample();
    const [first, second] = monitor.history();
    expect(second).toMatchObject({ produced: 90, inserted: 0, deadLetters: 1 });
    expect(ratePerSecond(first, second, "produced")).toBe(45);
    expect(monitor.brokerView().reachable).toBe(true);
    expect(monitor.peerHealth().map((peer) => [peer.name, peer.status])).toEqual([
      ["api", "ready"],
      ["broker", "ready"],
      ["collector-1", "unreachable"],
    ]);
    const status = pipelineStatus(clock.now(), { monitor, tail: undefined });
    expect(status.rates.produced_per_s).toBe(45);
    expect(status.totals).toEqual({ produced: 90, inserted: 0, dead_letters: 1 });
    expect(status.history.map((entry) => entry.produced_per_s)).toEqual([null, 45]);
    expect(status.live_tail.state).toBe("off");
    for (let index = 0; index < 3; index += 1) await monitor.sample();
    expect(monitor.history()).toHaveLength(3);
  });

  test("probes the peers only every probeEveryMs, reporting their last answer in between", async () => {
    const clock = new ManualClock(1_000_000);
    const monitor = new PipelineMonitor({
      http: undefined,
      topic: "telemetry",
      group: "collectors",
      deadLetterTopic: "telemetry.dlq",
      peers: parsePeers(`broker=${broker.url}`),
      sampleMs: 1_000,
      probeEveryMs: 60_000,
      historyMax: 3,
      probeTimeoutMs: 1_000,
      clock: clock.now,
      logger,
    });
    await monitor.sample();
    const first = monitor.peerHealth()[0]?.checkedAtMs;
    clock.advance(1_000);
    await monitor.sample();
    expect(monitor.peerHealth()[0]).toMatchObject({ status: "ready", checkedAtMs: first });
  });

  test("without a broker it reports it unreachable and has no figures", async () => {
    const monitor = new PipelineMonitor({
      http: new BrokerHttp({ brokerUrl: `http://127.0.0.1:${await freePort()}`, token: testBrokerToken }),
      topic: "telemetry",
      group: "collectors",
      deadLetterTopic: "telemetry.dlq",
      peers: [],
      sampleMs: 1_000,
      probeEveryMs: 0,
      historyMax: 2,
      probeTimeoutMs: 500,
      clock: Date.now,
      logger,
    });
    await monitor.sample();
    expect(monitor.brokerView().reachable).toBe(false);
    expect(monitor.history()[0]?.produced).toBeUndefined();
    expect(ratePerSecond(monitor.history()[0], monitor.history()[0], "produced")).toBeUndefined();
  });
});
