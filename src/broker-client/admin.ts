import type { DeleteTopicResponse, TopicInfo, TopicList } from "../broker-protocol/api-schemas.ts";
import type {
  GroupDetail,
  GroupListing,
  ResetOffsetsRequest,
  ResetOffsetsResult,
} from "../broker-protocol/group-protocol.ts";
import { brokerRoutes, healthPath, routeRequest } from "../broker-protocol/routes.ts";
import { BrokerHttp, type BrokerHttpOptions } from "./http-client.ts";
import { ensureTopicExists } from "./topic-ensure.ts";

/** Topic and group administration (what the CLI and the services' start-up use). */
export class Admin {
  private readonly http: BrokerHttp;

  constructor(options: BrokerHttpOptions) {
    this.http = new BrokerHttp(options);
  }

  /** True when the broker process answers its liveness route within `timeoutMs`. */
  async answers(timeoutMs: number): Promise<boolean> {
    try {
      const response = await this.http.request({ method: "GET", target: healthPath }, { timeoutMs });
      await response.body?.cancel();
      return true;
    } catch {
      return false;
    }
  }

  listTopics(): Promise<TopicList> {
    return this.http.json(routeRequest(brokerRoutes.listTopics));
  }

  describeTopic(topic: string): Promise<TopicInfo> {
    return this.http.json(routeRequest(brokerRoutes.describeTopic, { topic }));
  }

  createTopic(name: string, partitions?: number): Promise<TopicInfo> {
    const body = partitions === undefined ? { name } : { name, partitions };
    return this.http.json(routeRequest(brokerRoutes.createTopic), body);
  }

  /**
   * Deletes a topic with its files and the groups' committed offsets of it (admin
   * scope). Refused with 409 topic_in_use while a group member subscribes to it, and
   * 409 topic_protected for a protected topic unless `force`.
   */
  deleteTopic(name: string, options: { force?: boolean } = {}): Promise<DeleteTopicResponse> {
    return this.http.json(routeRequest(brokerRoutes.deleteTopic, { topic: name }, { force: options.force }));
  }

  /**
   * The topic's description, creating it first when it does not exist: with the
   * partition count asked when this token has admin, else by the broker's auto-create.
   */
  ensureTopic(name: string, partitions?: number): Promise<TopicInfo> {
    return ensureTopicExists(this.http, name, partitions);
  }

  listGroups(): Promise<GroupListing> {
    return this.http.json(routeRequest(brokerRoutes.listGroups));
  }

  describeGroup(group: string): Promise<GroupDetail> {
    return this.http.json(routeRequest(brokerRoutes.describeGroup, { group }));
  }

  /**
   * Moves committed offsets of partitions no member of the group owns (409
   * partition_owned otherwise), all or none; `dryRun` answers the plan only.
   */
  resetGroupOffsets(group: string, request: ResetOffsetsRequest): Promise<ResetOffsetsResult> {
    return this.http.json(routeRequest(brokerRoutes.resetGroupOffsets, { group }), request);
  }

  /** Deletes a group that has no members, with its committed offsets (admin scope). */
  async deleteGroup(group: string): Promise<void> {
    await this.http.json(routeRequest(brokerRoutes.deleteGroup, { group }));
  }
}
