import { TopicExistsError } from "../log/errors.ts";
import type { TopicInfo } from "../log/log-api.ts";
import type { BrokerContext } from "./broker-context.ts";
import { BrokerHttpError } from "./http-error.ts";

/** The topic, created with the default partition count when auto-create is on. */
export async function ensureTopic(context: BrokerContext, topic: string): Promise<TopicInfo> {
  const existing = context.log.topic(topic);
  if (existing !== undefined) return existing;
  if (!context.topicDefaults.autoCreate) {
    throw new BrokerHttpError("unknown_topic", `unknown topic "${topic}" (auto-create is off)`);
  }
  try {
    const created = await context.log.createTopic(topic, context.topicDefaults.partitions);
    context.logger.info({ topic, partitions: created.partitions }, "topic auto-created");
    return created;
  } catch (error) {
    // Two producers may race to create the same topic; the loser uses the winner's.
    if (!(error instanceof TopicExistsError)) throw error;
    const raced = context.log.topic(topic);
    if (raced === undefined) throw new Error(`topic ${topic} exists and does not`);
    return raced;
  }
}
