import { describe, expect, test } from "bun:test";
import { createPartitioner, murmur2, partitionForKey } from "../../../src/broker-protocol/partitioner.ts";

const utf8 = (text: string) => new TextEncoder().encode(text);

describe("partitioner", () => {
  test("murmur2 matches Kafka's reference values (Utils.murmur2 test vectors)", () => {
    expect(murmur2(utf8("21"))).toBe(-973932308);
    expect(murmur2(utf8("foobar"))).toBe(-790332482);
    expect(murmur2(utf8("a-little-bit-long-string"))).toBe(-985981536);
    expect(murmur2(utf8("a-little-bit-longer-string"))).toBe(-1486304829);
    expect(murmur2(utf8("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"))).toBe(-58897971);
    expect(murmur2(utf8("abc"))).toBe(479470107);
  });

  test("a key always lands in the same partition, within range; strings and bytes agree", () => {
    const uuid = "GPU-5fd4f087-86f3-7a43-b711-4771313afc50";
    const partition = partitionForKey(uuid, 12);
    expect(partition).toBe((murmur2(utf8(uuid)) & 0x7fffffff) % 12);
    expect(partitionForKey(utf8(uuid), 12)).toBe(partition);
    expect(createPartitioner(12)(uuid)).toBe(partition);
  });

  test("247 GPU UUIDs spread over all 12 partitions", () => {
    const counts = new Array<number>(12).fill(0);
    for (let index = 0; index < 247; index += 1) {
      const uuid = `GPU-${index.toString(16).padStart(8, "0")}-86f3-7a43-b711-4771313afc50`;
      counts[partitionForKey(uuid, 12)]! += 1;
    }
    expect(counts.every((count) => count > 5)).toBe(true);
  });

  test("the memo stays bounded and correct after it is cleared", () => {
    const partitionOf = createPartitioner(7, 4);
    for (let index = 0; index < 20; index += 1) expect(partitionOf(`k${index}`)).toBe(partitionForKey(`k${index}`, 7));
  });

  test("rejects a partition count below one", () => {
    expect(() => partitionForKey("x", 0)).toThrow(/partitionCount/);
  });
});
