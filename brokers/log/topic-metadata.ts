import { readFileSync } from "node:fs";
import { type Static, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { isValidName, namePattern } from "../../src/broker-protocol/names.ts";
import { writeFileAtomic } from "../files/atomic-file.ts";
import { InvalidTopicError } from "./errors.ts";
import { topicMetadataPath } from "./file-names.ts";
import { type LogConfig, TopicOverrides } from "./log-config.ts";

/** `<dataDir>/<topic>.topic.json`: written last when a topic is created, so it marks a complete topic. */
export const TopicInfo = Type.Object(
  {
    name: Type.String({ pattern: namePattern }),
    partitions: Type.Integer({ minimum: 1 }),
    overrides: TopicOverrides,
    createdAtMs: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type TopicInfo = Static<typeof TopicInfo>;

export function validateNewTopic(info: TopicInfo, config: LogConfig): void {
  if (!isValidName(info.name)) throw new InvalidTopicError(`topic name "${info.name}" must match ${namePattern}`);
  if (!Number.isInteger(info.partitions) || info.partitions < 1 || info.partitions > config.partitionsPerTopicMax) {
    throw new InvalidTopicError(
      `topic "${info.name}": ${info.partitions} partitions, allowed 1..${config.partitionsPerTopicMax}`,
    );
  }
  if (!Value.Check(TopicOverrides, info.overrides)) {
    const first = Value.Errors(TopicOverrides, info.overrides).First();
    throw new InvalidTopicError(`topic "${info.name}" overrides: ${first?.path ?? ""} ${first?.message ?? "invalid"}`);
  }
}

export function writeTopicMetadata(dataDir: string, info: TopicInfo): void {
  writeFileAtomic(topicMetadataPath(dataDir, info.name), JSON.stringify(info, null, 2));
}

export function readTopicMetadata(dataDir: string, name: string): TopicInfo {
  const path = topicMetadataPath(dataDir, name);
  const parsed: unknown = JSON.parse(readFileSync(path, "utf8"));
  if (!Value.Check(TopicInfo, parsed) || parsed.name !== name) {
    throw new Error(`topic metadata ${path} is invalid or names another topic`);
  }
  return parsed;
}
