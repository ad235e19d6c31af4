import { describe, expect, test } from "bun:test";
import { type AssignorMember, assignSticky, type PartitionOwners } from "../../../brokers/groups/sticky-assignor.ts";

const topic = "telemetry";

function assign(members: AssignorMember[], counts: Record<string, number>, previous: PartitionOwners = new Map()) {
  return assignSticky({ members, partitionCounts: new Map(Object.entries(counts)), previous });
}

function countsByMember(owners: PartitionOwners, name = topic): Map<string, number> {
  const counts = new Map<string, number>();
  for (const owner of owners.get(name) ?? []) {
    if (owner !== undefined) counts.set(owner, (counts.get(owner) ?? 0) + 1);
  }
  return counts;
}

function movedCount(before: PartitionOwners, after: PartitionOwners, name = topic): number {
  const previous = before.get(name) ?? [];
  return (after.get(name) ?? []).filter(
    (owner, partition) => previous[partition] !== undefined && owner !== previous[partition],
  ).length;
}

const member = (memberId: string, topics = [topic]): AssignorMember => ({ memberId, topics });

describe("assignSticky", () => {
  test("assigns every partition and balances counts within one", () => {
    for (let memberCount = 1; memberCount <= 13; memberCount += 1) {
      const members = Array.from({ length: memberCount }, (_, index) => member(`m${index}`));
      const owners = assign(members, { [topic]: 12 });
      expect((owners.get(topic) ?? []).every((owner) => owner !== undefined)).toBe(true);
      const counts = [...countsByMember(owners).values()];
      expect(counts.reduce((a, b) => a + b, 0)).toBe(12);
      expect(Math.max(...counts) - Math.min(...counts, memberCount > 12 ? 0 : Infinity)).toBeLessThanOrEqual(1);
    }
  });

  test("is deterministic whatever the member order", () => {
    const a = assign([member("b"), member("a"), member("c")], { [topic]: 10 });
    const b = assign([member("c"), member("b"), member("a")], { [topic]: 10 });
    expect(a).toEqual(b);
  });

  test("12 partitions, 2 -> 3 members moves exactly 4; 3 -> 2 moves only the leaver's 4", () => {
    const two = assign([member("a"), member("b")], { [topic]: 12 });
    const three = assign([member("a"), member("b"), member("c")], { [topic]: 12 }, two);
    expect(movedCount(two, three)).toBe(4);
    expect(countsByMember(three)).toEqual(
      new Map([
        ["a", 4],
        ["b", 4],
        ["c", 4],
      ]),
    );
    const withoutLeaver: PartitionOwners = new Map([
      [topic, (three.get(topic) ?? []).map((owner) => (owner === "c" ? undefined : owner))],
    ]);
    const back = assign([member("a"), member("b")], { [topic]: 12 }, three);
    expect(movedCount(withoutLeaver, back)).toBe(0);
    expect(countsByMember(back)).toEqual(
      new Map([
        ["a", 6],
        ["b", 6],
      ]),
    );
  });

  test("uneven split gives the larger quotas to members that already hold more", () => {
    // 10 partitions: a holds 6, b holds 4; c joins -> quotas 4/3/3, a and b keep the most they can.
    const previous: PartitionOwners = new Map([[topic, ["a", "a", "a", "a", "a", "a", "b", "b", "b", "b"]]]);
    const next = assign([member("a"), member("b"), member("c")], { [topic]: 10 }, previous);
    expect(countsByMember(next)).toEqual(
      new Map([
        ["a", 4],
        ["b", 3],
        ["c", 3],
      ]),
    );
    expect(movedCount(previous, next)).toBe(3);
  });

  test("more members than partitions leaves the extra members empty, moving nothing held", () => {
    const previous = assign([member("a"), member("b")], { [topic]: 3 });
    const next = assign([member("a"), member("b"), member("c"), member("d"), member("e")], { [topic]: 3 }, previous);
    expect(countsByMember(next).size).toBe(3);
    expect(movedCount(previous, next)).toBe(1);
  });

  test("members only get topics they subscribe to, and small topics spread across members", () => {
    const owners = assign([member("a", ["x", "y"]), member("b", ["x", "y"]), member("c", ["z"])], { x: 1, y: 1, z: 4 });
    expect(owners.get("x")).toEqual(["a"]);
    expect(owners.get("y")).toEqual(["b"]);
    expect(owners.get("z")).toEqual(["c", "c", "c", "c"]);
  });

  test("a topic nobody subscribes to is left unassigned", () => {
    const owners = assign([member("a", ["x"])], { x: 2, y: 2 });
    expect(owners.get("y")).toEqual([undefined, undefined]);
  });
});
