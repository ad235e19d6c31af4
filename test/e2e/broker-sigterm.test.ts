import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Admin } from "../../src/broker-client/admin.ts";
import { Producer } from "../../src/broker-client/producer.ts";
import { readAll } from "../src/broker-client/read-all.ts";
import { testBrokerToken } from "../support/test-tokens.ts";
import { type BrokerProcess, spawnBroker } from "./broker-process.ts";

const dataDir = mkdtempSync(join(tmpdir(), "broker-sigterm-"));
const running: BrokerProcess[] = [];
afterAll(() => {
  for (const broker of running) broker.proc.kill(9);
  rmSync(dataDir, { recursive: true, force: true });
});

test("SIGTERM under load: in-flight appends finish, the broker exits 0, acknowledged records are all there", async () => {
  const env = { BROKER_DATA_DIR: dataDir, BROKER_FLUSH: "interval", BROKER_FLUSH_INTERVAL_MS: "10000" };
  const first = await spawnBroker(env);
  running.push(first);
  await new Admin({ brokerUrl: first.url, token: testBrokerToken }).createTopic("telemetry", 12);
  const producer = await Producer.create({
    brokerUrl: first.url,
    token: testBrokerToken,
    topic: "telemetry",
    lingerMs: 2,
    deliveryTimeoutMs: 2_000,
    backoff: { backoffMsMin: 10, backoffMsMax: 50 },
  });
  const acked = new Set<string>();
  let stop = false;
  const producing = (async () => {
    for (let n = 0; !stop; n += 1) {
      const value = `r${n}`;
      producer.sendAndWait({ key: `GPU-${n % 247}`, value }).then(
        () => acked.add(value),
        () => undefined,
      );
      if (n % 200 === 0) await Bun.sleep(1);
    }
  })();
  await Bun.sleep(500);
  first.proc.kill("SIGTERM");
  expect(await first.proc.exited).toBe(0);
  stop = true;
  await producing;
  await producer.close().catch(() => undefined);
  expect(acked.size).toBeGreaterThan(500);

  // The restart (on the state the graceful stop left) finds every acknowledged record.
  const second = await spawnBroker(env);
  running.push(second);
  const stored = new Set((await readAll(second.url, "telemetry")).map((record) => record.value));
  expect([...acked].filter((value) => !stored.has(value))).toEqual([]);
  second.proc.kill("SIGTERM");
  expect(await second.proc.exited).toBe(0);
}, 30_000);
