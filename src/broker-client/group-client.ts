import type {
  Assignment,
  CommitOffsetsRequest,
  CommitOffsetsResponse,
  GroupOffsets,
  HeartbeatRequest,
  JoinGroupRequest,
  MemberAssignment,
} from "../broker-protocol/group-protocol.ts";
import { brokerRoutes, routeRequest } from "../broker-protocol/routes.ts";
import type { BrokerHttp } from "./http-client.ts";

/** The consumer-group routes as typed calls; errors arrive as BrokerClientError. */
export class GroupClient {
  constructor(
    private readonly http: BrokerHttp,
    readonly group: string,
  ) {}

  join(request: JoinGroupRequest): Promise<MemberAssignment> {
    return this.http.json(routeRequest(brokerRoutes.joinGroup, { group: this.group }), request);
  }

  heartbeat(request: HeartbeatRequest): Promise<MemberAssignment> {
    return this.http.json(routeRequest(brokerRoutes.heartbeat, { group: this.group }), request);
  }

  async leave(memberId: string): Promise<void> {
    await this.http.json(routeRequest(brokerRoutes.leaveGroup, { group: this.group }), { memberId });
  }

  commit(request: CommitOffsetsRequest): Promise<CommitOffsetsResponse> {
    return this.http.json(routeRequest(brokerRoutes.commitOffsets, { group: this.group }), request);
  }

  offsets(topic: string): Promise<GroupOffsets> {
    return this.http.json(routeRequest(brokerRoutes.groupOffsets, { group: this.group }, { topic }));
  }
}

/** "topic/partition" keys of an assignment. */
export function assignmentKeys(assignment: Assignment): Set<string> {
  const keys = new Set<string>();
  for (const entry of assignment) for (const partition of entry.partitions) keys.add(`${entry.topic}/${partition}`);
  return keys;
}

export function parseKey(key: string): { topic: string; partition: number } {
  const slash = key.lastIndexOf("/");
  return { topic: key.slice(0, slash), partition: Number(key.slice(slash + 1)) };
}

/** Keys back to the grouped-by-topic shape the protocol uses (topics and partitions ascending). */
export function toAssignment(keys: Iterable<string>): Assignment {
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
