import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { makeLogConfig } from "../../../brokers/log/log-config.ts";
import { LogManager } from "../../../brokers/log/log-manager.ts";
import { decodeRecords } from "../../../src/broker-protocol/record-batch.ts";
import { tempDir } from "./log-test-support.ts";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Ack {
  baseOffset: number;
  lastOffset: number;
  tag: string;
}

/** Runs the child until it has acknowledged `acksWanted` appends, then kill -9; returns the acks it printed. */
async function appendThenKill(dataDir: string, flush: string, acksWanted: number): Promise<Ack[]> {
  const child = Bun.spawn(["bun", join(import.meta.dir, "append-until-killed.ts"), dataDir, flush], {
    stdout: "pipe",
    stderr: "inherit",
  });
  cleanups.push(() => child.kill("SIGKILL"));
  const acks: Ack[] = [];
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of child.stdout) {
    pending += decoder.decode(chunk);
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const line of lines) {
      const [kind, baseOffset, lastOffset, tag] = line.split(" ");
      if (kind === "ack") acks.push({ baseOffset: Number(baseOffset), lastOffset: Number(lastOffset), tag: tag! });
    }
    if (acks.length >= acksWanted) break;
  }
  child.kill("SIGKILL");
  await child.exited;
  return acks;
}

describe("kill -9 during appends", () => {
  for (const flush of ["always", "os"] as const) {
    test(`flush=${flush}: every acknowledged batch is readable after restart, and appends continue`, async () => {
      const dir = tempDir("kill-recovery");
      cleanups.push(dir.remove);
      const acks = await appendThenKill(dir.path, flush, 1000);
      expect(acks.length).toBeGreaterThanOrEqual(1000);
      const manager = await LogManager.open({
        dataDir: dir.path,
        config: makeLogConfig({ flush, segmentBytesMax: 256 * 1024 }),
      });
      cleanups.push(() => manager.close());
      const log = manager.partition("crash", 0);
      const byOffset = new Map<number, string>();
      for (let offset = 0; offset < log.highWatermark; ) {
        const result = log.read(offset, 1 << 20);
        for (const record of decodeRecords(result.bytes))
          byOffset.set(record.offset, new TextDecoder().decode(record.key));
        offset = result.nextOffset;
      }
      for (const ack of acks) {
        expect(byOffset.get(ack.baseOffset)).toBe(ack.tag);
        expect(byOffset.get(ack.lastOffset)).toBe(ack.tag);
      }
      expect(log.highWatermark).toBe(byOffset.size);
      const next = await log.append(new Uint8Array(log.read(0, 1).bytes));
      expect(next.baseOffset).toBe(byOffset.size);
    }, 30_000);
  }
});
