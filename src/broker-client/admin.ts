import type { CreateTopicBody, TopicInfo, TopicList } from "../broker-protocol/api-schemas.ts";
import type { GroupDescription, GroupLag, GroupListing } from "../broker-protocol/group-protocol.ts";
import { ApiPath } from "../broker-protocol/routes.ts";
import { BrokerHttp } from "./http-client.ts";

/** Topic and group administration (what the CLI and the services' start-up use). */
export class Admin {
  private readonly http: BrokerHttp;

  constructor(options: { brokerUrl: string; requestTimeoutMs?: number }) {
    this.http = new BrokerHttp(options);
  }

  listTopics(): Promise<TopicList> {
    return this.http.json<TopicList>("GET", ApiPath.topics);
  }

  describeTopic(topic: string): Promise<TopicInfo> {
    return this.http.json<TopicInfo>("GET", ApiPath.topic(topic));
  }

  createTopic(name: string, partitions?: number): Promise<TopicInfo> {
    const body: CreateTopicBody = partitions === undefined ? { name } : { name, partitions };
    return this.http.json<TopicInfo>("POST", ApiPath.topics, body);
  }

  /** Creates the topic unless it exists; returns its description either way. */
  async ensureTopic(name: string, partitions?: number): Promise<TopicInfo> {
    try {
      return await this.createTopic(name, partitions);
    } catch (error) {
      if ((error as { code?: string }).code !== "topic_exists") throw error;
      return await this.describeTopic(name);
    }
  }

  listGroups(): Promise<GroupListing> {
    return this.http.json<GroupListing>("GET", ApiPath.groups);
  }

  describeGroup(group: string): Promise<GroupDescription & { lag: GroupLag }> {
    return this.http.json<GroupDescription & { lag: GroupLag }>("GET", ApiPath.group(group));
  }
}
