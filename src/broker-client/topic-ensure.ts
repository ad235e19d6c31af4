import type { TopicInfo } from "../broker-protocol/api-schemas.ts";
import { binaryContentType } from "../broker-protocol/headers.ts";
import { brokerRoutes, routeRequest } from "../broker-protocol/routes.ts";
import { BrokerClientError, type BrokerHttp } from "./http-client.ts";

/**
 * A topic that exists once this resolves, made by whoever may make it. Creating a
 * topic is the admin scope's; a service holding only produce or consume relies on the
 * broker's auto-create (BROKER_AUTO_CREATE_TOPICS, the default partition count),
 * asked for with an empty produce request. Either way the answer is the topic as it is.
 */
export async function ensureTopicExists(http: BrokerHttp, name: string, partitions?: number): Promise<TopicInfo> {
  const describe = routeRequest(brokerRoutes.describeTopic, { topic: name });
  const existing = await describeIfExists(http, name);
  if (existing !== undefined) return existing;
  try {
    const body = partitions === undefined ? { name } : { name, partitions };
    return await http.json(routeRequest(brokerRoutes.createTopic), body);
  } catch (error) {
    if (isCode(error, "topic_exists")) return await http.json(describe);
    if (!isCode(error, "insufficient_scope")) throw error;
  }
  await autoCreate(http, name);
  return await http.json(describe);
}

async function describeIfExists(http: BrokerHttp, name: string): Promise<TopicInfo | undefined> {
  try {
    return await http.json(routeRequest(brokerRoutes.describeTopic, { topic: name }));
  } catch (error) {
    if (error instanceof BrokerClientError && error.status === 404) return undefined;
    throw error;
  }
}

async function autoCreate(http: BrokerHttp, name: string): Promise<void> {
  try {
    const response = await http.request(routeRequest(brokerRoutes.produce, { topic: name }), {
      body: new Uint8Array(0),
      contentType: binaryContentType,
    });
    await response.body?.cancel();
  } catch (error) {
    if (!isCode(error, "unknown_topic")) throw error;
    throw new BrokerClientError(
      404,
      "unknown_topic",
      `topic "${name}" does not exist and this token may not create it: create it with an admin token (bun run broker -- topics create ${name}) or turn BROKER_AUTO_CREATE_TOPICS on`,
      false,
      0,
      undefined,
    );
  }
}

function isCode(error: unknown, code: string): boolean {
  return error instanceof BrokerClientError && error.code === code;
}
