import {
  clientIdLengthMax,
  type JoinGroupRequest,
  memberIdLengthMax,
  type PartitionOffset,
} from "../../src/broker-protocol/group-protocol.ts";
import { isValidName } from "../../src/broker-protocol/names.ts";
import { InvalidGroupRequestError, UnknownTopicError } from "./errors.ts";
import type { GroupLimits } from "./group-limits.ts";

/**
 * Checks of requests against names, bounds and existing topics. The HTTP layer
 * validates the same shapes with the TypeBox schemas; the coordinator checks again
 * because it is transport-agnostic and the limits are configuration.
 */

/** Returns the topics, ascending and unique. */
export function validateJoin(options: {
  groupName: string;
  request: JoinGroupRequest;
  limits: GroupLimits;
  partitionCount: (topic: string) => number | undefined;
}): string[] {
  const { groupName, request, limits } = options;
  validateGroupName(groupName);
  if (
    request.memberId !== undefined &&
    (request.memberId.length === 0 || request.memberId.length > memberIdLengthMax)
  ) {
    throw new InvalidGroupRequestError(`memberId must be 1..${memberIdLengthMax} characters`);
  }
  if (request.clientId.length === 0 || request.clientId.length > clientIdLengthMax) {
    throw new InvalidGroupRequestError(`clientId must be 1..${clientIdLengthMax} characters`);
  }
  const timeoutMs = request.sessionTimeoutMs ?? limits.sessionTimeoutMsDefault;
  const { sessionTimeoutMsMin, sessionTimeoutMsMax } = limits;
  if (!Number.isInteger(timeoutMs) || timeoutMs < sessionTimeoutMsMin || timeoutMs > sessionTimeoutMsMax) {
    throw new InvalidGroupRequestError(
      `sessionTimeoutMs ${timeoutMs} outside sessionTimeoutMsMin ${sessionTimeoutMsMin}..sessionTimeoutMsMax ${sessionTimeoutMsMax}`,
    );
  }
  const topics = [...new Set(request.topics)].sort();
  if (topics.length === 0 || topics.length > limits.topicsPerMemberMax) {
    throw new InvalidGroupRequestError(
      `${topics.length} topics; a member subscribes to 1..topicsPerMemberMax ${limits.topicsPerMemberMax}`,
    );
  }
  for (const topic of topics) {
    if (!isValidName(topic)) throw new InvalidGroupRequestError(`topic name ${JSON.stringify(topic)} is not valid`);
    if (options.partitionCount(topic) === undefined) throw new UnknownTopicError(groupName, topic);
  }
  return topics;
}

export function validateGroupName(groupName: string): void {
  if (!isValidName(groupName))
    throw new InvalidGroupRequestError(`group name ${JSON.stringify(groupName)} is not valid`);
}

export function validateOffsets(offsets: readonly PartitionOffset[], limits: GroupLimits): void {
  if (offsets.length === 0 || offsets.length > limits.offsetsPerCommitMax) {
    throw new InvalidGroupRequestError(
      `${offsets.length} offsets; a commit carries 1..offsetsPerCommitMax ${limits.offsetsPerCommitMax}`,
    );
  }
  for (const entry of offsets) {
    if (!Number.isSafeInteger(entry.offset) || entry.offset < 0) {
      throw new InvalidGroupRequestError(
        `offset ${entry.offset} of ${entry.topic}/${entry.partition} is not a non-negative integer`,
      );
    }
    if (!Number.isInteger(entry.partition) || entry.partition < 0) {
      throw new InvalidGroupRequestError(
        `partition ${entry.partition} of ${entry.topic} is not a non-negative integer`,
      );
    }
  }
}

export function validateGeneration(generation: number): void {
  if (!Number.isInteger(generation) || generation < 0) {
    throw new InvalidGroupRequestError(`generation ${generation} is not a non-negative integer`);
  }
}
