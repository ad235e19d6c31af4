import type { Assignment } from "../broker-protocol/group-protocol.ts";

/** A partition as the client's membership and consumer key it: "topic/partition". */
export type PartitionKey = string;

/** "topic/partition" keys of an assignment. */
export function assignmentKeys(assignment: Assignment): Set<PartitionKey> {
  const keys = new Set<PartitionKey>();
  for (const entry of assignment) for (const partition of entry.partitions) keys.add(`${entry.topic}/${partition}`);
  return keys;
}

export function parseKey(key: PartitionKey): { topic: string; partition: number } {
  const slash = key.lastIndexOf("/");
  return { topic: key.slice(0, slash), partition: Number(key.slice(slash + 1)) };
}

/** Keys back to the grouped-by-topic shape the protocol uses (topics and partitions ascending). */
export function toAssignment(keys: Iterable<PartitionKey>): Assignment {
  const byTopic = new Map<string, number[]>();
  for (const key of keys) {
    const { topic, partition } = parseKey(key);
    const partitions = byTopic.get(topic) ?? [];
    partitions.push(partition);
    byTopic.set(topic, partitions);
  }
  return [...byTopic.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([topic, partitions]) => ({ topic, partitions: partitions.sort((a, b) => a - b) }));
}
