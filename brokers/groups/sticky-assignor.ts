/**
 * Broker-side sticky partition assignment. Given the members, the partitions of
 * each topic and the previous assignment, it returns a balanced assignment
 * (per topic, members subscribed to it hold counts differing by at most one) that
 * moves the fewest partitions away from their previous member. Deterministic: the
 * same input always gives the same output.
 *
 * Minimality: per topic, the members that keep the most partitions get the
 * `count % members` larger quotas; every member keeps min(kept, quota) of its
 * partitions and only the surplus moves. No assignment with these balanced quotas
 * moves fewer.
 */

export interface AssignorMember {
  memberId: string;
  topics: readonly string[];
}

/** For each topic, the member id per partition (undefined: nobody). */
export type PartitionOwners = Map<string, (string | undefined)[]>;

export interface StickyAssignmentInput {
  members: readonly AssignorMember[];
  partitionCounts: ReadonlyMap<string, number>;
  previous: PartitionOwners;
}

export function assignSticky(input: StickyAssignmentInput): PartitionOwners {
  const memberIds = input.members.map((member) => member.memberId).sort(compareText);
  const topicsByMember = new Map(input.members.map((member) => [member.memberId, new Set(member.topics)]));
  const load = new Map(memberIds.map((memberId) => [memberId, 0]));
  const result: PartitionOwners = new Map();
  for (const topic of [...input.partitionCounts.keys()].sort(compareText)) {
    const partitionCount = input.partitionCounts.get(topic) ?? 0;
    const subscribers = memberIds.filter((memberId) => topicsByMember.get(memberId)?.has(topic) === true);
    const owners = assignTopic({ partitionCount, subscribers, previous: input.previous.get(topic) ?? [], load });
    result.set(topic, owners);
  }
  return result;
}

interface TopicInput {
  partitionCount: number;
  /** Ascending member ids. */
  subscribers: readonly string[];
  previous: readonly (string | undefined)[];
  /** Partitions held across topics so far, updated here; spreads small topics. */
  load: Map<string, number>;
}

function assignTopic(input: TopicInput): (string | undefined)[] {
  assert(
    Number.isInteger(input.partitionCount) && input.partitionCount >= 0,
    `partition count ${input.partitionCount}`,
  );
  const owners = new Array<string | undefined>(input.partitionCount).fill(undefined);
  if (input.subscribers.length === 0) return owners;
  const kept = keptPartitions(input);
  const quotas = quotasFor(input, kept);
  const free: number[] = [];
  for (let partition = 0; partition < input.partitionCount; partition += 1) {
    const previousOwner = input.previous[partition];
    if (previousOwner === undefined || !kept.has(previousOwner)) free.push(partition);
  }
  for (const memberId of input.subscribers) {
    const mine = kept.get(memberId) ?? [];
    const quota = quotas.get(memberId) ?? 0;
    for (const [index, partition] of mine.entries()) {
      if (index < quota) owners[partition] = memberId;
      else free.push(partition);
    }
  }
  free.sort((a, b) => a - b);
  let freeIndex = 0;
  for (const memberId of input.subscribers) {
    const quota = quotas.get(memberId) ?? 0;
    const keptCount = Math.min(quota, kept.get(memberId)?.length ?? 0);
    for (let held = keptCount; held < quota; held += 1) {
      const partition = free[freeIndex];
      assert(partition !== undefined, `free partitions ran out at member ${memberId}`);
      owners[partition] = memberId;
      freeIndex += 1;
    }
    input.load.set(memberId, (input.load.get(memberId) ?? 0) + quota);
  }
  assert(freeIndex === free.length, `${free.length - freeIndex} partitions left unassigned`);
  return owners;
}

/** Each subscriber's previous partitions of this topic, ascending. */
function keptPartitions(input: TopicInput): Map<string, number[]> {
  const kept = new Map<string, number[]>(input.subscribers.map((memberId) => [memberId, []]));
  for (let partition = 0; partition < input.partitionCount; partition += 1) {
    const previousOwner = input.previous[partition];
    if (previousOwner !== undefined) kept.get(previousOwner)?.push(partition);
  }
  return kept;
}

/** Balanced quotas; the larger ones go to members keeping the most, then to the least loaded. */
function quotasFor(input: TopicInput, kept: Map<string, number[]>): Map<string, number> {
  const memberCount = input.subscribers.length;
  const base = Math.floor(input.partitionCount / memberCount);
  const largerCount = input.partitionCount % memberCount;
  const keptCount = (memberId: string) => kept.get(memberId)?.length ?? 0;
  const loadOf = (memberId: string) => input.load.get(memberId) ?? 0;
  const ranked = [...input.subscribers].sort(
    (a, b) => keptCount(b) - keptCount(a) || loadOf(a) - loadOf(b) || compareText(a, b),
  );
  return new Map(ranked.map((memberId, rank) => [memberId, base + (rank < largerCount ? 1 : 0)]));
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`sticky assignor: ${message}`);
}
