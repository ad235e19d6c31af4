/**
 * The broker on a disk that fills up, from the first failed write on: a small tmpfs
 * is mounted as its data directory and filled. Every refused write is a retryable
 * 503 disk_full with the reason (never a 500), heartbeats go on and nobody is evicted,
 * commits get 503 and land once space is back, and every acknowledged record is in
 * the log once. Mounting needs root; elsewhere the test is skipped and says why.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Admin } from "../../src/broker-client/admin.ts";
import { GroupClient } from "../../src/broker-client/group-client.ts";
import { BrokerClientError, BrokerHttp } from "../../src/broker-client/http-client.ts";
import { Producer } from "../../src/broker-client/producer.ts";
import { startTestBroker, type TestBroker } from "../brokers/server/test-broker.ts";
import { readAll } from "../src/broker-client/read-all.ts";
import { testBrokerToken } from "../support/test-tokens.ts";

const mountPoint = mkdtempSync(join(tmpdir(), "exactly-disk-full-"));
const mounted = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mountPoint]).exitCode === 0;
if (!mounted) console.warn(`broker-disk-full: skipped, cannot mount a tmpfs at ${mountPoint} (needs root)`);

let broker: TestBroker | undefined;
const fillerPath = join(mountPoint, "filler");

beforeAll(async () => {
  if (!mounted) return;
  broker = await startTestBroker(
    { BROKER_SEGMENT_BYTES_MAX: "65536", BROKER_GROUP_EVICTION_CHECK_MS: "100" },
    join(mountPoint, "broker"),
  );
});

afterAll(async () => {
  await broker?.stop();
  // Lazily: mapped index files keep the mount busy until they are collected.
  if (mounted) Bun.spawnSync(["umount", "-l", mountPoint]);
  rmSync(mountPoint, { recursive: true, force: true });
});

/** Fills the tmpfs to `leaveBytes` of free space. */
function fill(leaveBytes: number): void {
  const { bavail, bsize } = statfsSync(mountPoint);
  writeFileSync(fillerPath, new Uint8Array(Math.max(0, bavail * bsize - leaveBytes)));
}

async function errorOf(attempt: Promise<unknown>): Promise<BrokerClientError | undefined> {
  try {
    await attempt;
    return undefined;
  } catch (error) {
    if (error instanceof BrokerClientError) return error;
    throw error;
  }
}

test.skipIf(!mounted)(
  "a full disk: 503 disk_full with the reason everywhere, heartbeats go on, nothing acknowledged is lost",
  async () => {
    const url = broker!.url;
    const http = new BrokerHttp({ brokerUrl: url, token: testBrokerToken });
    const groups = new GroupClient(http, "full");
    const refused: string[] = [];
    const acked = new Set<string>();
    const producer = await Producer.create({
      brokerUrl: url,
      token: testBrokerToken,
      topic: "full",
      createTopic: true,
      lingerMs: 2,
      batchBytesMax: 16 * 1024,
      backoff: { backoffMsMin: 20, backoffMsMax: 200 },
      onRefused: (refusal) => refused.push(`${refusal.code} ${refusal.message}`),
    });
    const member = await groups.join({ clientId: "m", topics: ["full"], sessionTimeoutMs: 2_000 });
    let heartbeats = 0;
    let heartbeatFailures = 0;
    let generation = member.generation;
    const beating = setInterval(() => {
      groups
        .heartbeat({ memberId: member.memberId, generation })
        .then((answer) => {
          heartbeats += 1;
          generation = answer.generation;
        })
        .catch(() => {
          heartbeatFailures += 1;
        });
    }, 200);
    try {
      fill(256 * 1024);
      // Records until the disk is full and then some: refused, retried, not acknowledged yet.
      let sent = 0;
      const sending: Promise<void>[] = [];
      for (; refused.length === 0 && sent < 200_000; sent += 1) {
        const record = { key: `k${sent % 97}`, value: `record-${sent}-${"x".repeat(200)}` };
        sending.push(producer.sendAndWait(record).then(() => void acked.add(record.value)));
        if (sent % 200 === 0) await Bun.sleep(1);
      }
      await Bun.sleep(1_500);
      expect(refused.length).toBeGreaterThan(0);
      expect(refused.every((line) => line.startsWith("disk_full "))).toBe(true);
      expect(refused.some((line) => line.includes("no space left on device"))).toBe(true);

      // Group state survives: heartbeats answer, commits and new topics are refused as retryable 503s.
      const commit = await errorOf(
        groups.commit({ memberId: member.memberId, generation, offsets: [{ topic: "full", partition: 0, offset: 1 }] }),
      );
      expect(commit?.status).toBe(503);
      expect(commit?.code).toBe("disk_full");
      expect(commit?.retryable).toBe(true);
      const create = await errorOf(new Admin({ brokerUrl: url, token: testBrokerToken }).createTopic("more", 4));
      expect(create?.status).toBe(503);
      expect(create?.code).toBe("disk_full");
      const beatsBefore = heartbeats;
      await Bun.sleep(2_500);
      expect(heartbeats).toBeGreaterThan(beatsBefore + 5);
      expect(heartbeatFailures).toBe(0);

      // Space comes back: everything sent is acknowledged, the commit lands.
      rmSync(fillerPath);
      await Promise.all(sending);
      await producer.close();
      await groups.commit({
        memberId: member.memberId,
        generation,
        offsets: [{ topic: "full", partition: 0, offset: 1 }],
      });
      const stored = (await readAll(url, "full")).map((record) => record.value);
      expect(stored.length).toBe(sent);
      expect(new Set(stored).size).toBe(sent);
      expect(acked.size).toBe(sent);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      const internal = metrics
        .split("\n")
        .filter((line) => line.startsWith("broker_errors_total{") && line.includes('code="internal"'));
      expect(internal).toEqual([]);
    } finally {
      clearInterval(beating);
    }
  },
  60_000,
);
