import type {
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
