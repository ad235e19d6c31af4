/** Paths of the broker's HTTP API. */
export const ApiPath = {
  topics: "/v1/topics",
  topic: (topic: string) => `/v1/topics/${encodeURIComponent(topic)}`,
  produce: (topic: string) => `/v1/topics/${encodeURIComponent(topic)}/produce`,
  fetch: (topic: string, partition: number) => `/v1/topics/${encodeURIComponent(topic)}/partitions/${partition}/fetch`,
  producers: "/v1/producers",
  groups: "/v1/groups",
  group: (group: string) => `/v1/groups/${encodeURIComponent(group)}`,
  groupAction: (group: string, action: "join" | "heartbeat" | "leave" | "commit") =>
    `/v1/groups/${encodeURIComponent(group)}/${action}`,
  groupOffsets: (group: string) => `/v1/groups/${encodeURIComponent(group)}/offsets`,
} as const;
