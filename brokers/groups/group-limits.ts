import { offsetsPerCommitMax, topicsPerMemberMax } from "../../src/broker-protocol/group-protocol.ts";

/** Every bound the coordinator enforces; going past one is an explicit error. */
export interface GroupLimits {
  groupsMax: number;
  membersPerGroupMax: number;
  topicsPerMemberMax: number;
  /** Sum of the partitions of the topics a group's members subscribe to. */
  partitionsPerGroupMax: number;
  offsetsPerCommitMax: number;
  sessionTimeoutMsMin: number;
  sessionTimeoutMsMax: number;
  /** Used when a join gives no session timeout. */
  sessionTimeoutMsDefault: number;
  /** A member holding a revoked partition longer than this is evicted, so a stuck member cannot block a hand-over. */
  revocationTimeoutMs: number;
  /** Largest checkpoint file of one group (membership, ownership, offsets). */
  checkpointBytesMax: number;
}

export const groupLimitsDefault: GroupLimits = {
  groupsMax: 1_024,
  membersPerGroupMax: 64,
  topicsPerMemberMax: 16,
  partitionsPerGroupMax: 4_096,
  offsetsPerCommitMax: 4_096,
  sessionTimeoutMsMin: 1_000,
  sessionTimeoutMsMax: 300_000,
  sessionTimeoutMsDefault: 10_000,
  revocationTimeoutMs: 60_000,
  checkpointBytesMax: 4 * 1024 * 1024,
};

/** Defaults overridden by `overrides`, checked for consistency. */
export function resolveGroupLimits(overrides: Partial<GroupLimits> = {}): GroupLimits {
  const limits = { ...groupLimitsDefault, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isInteger(value) || value < 1)
      throw new Error(`group limit ${name} must be a positive integer, got ${value}`);
  }
  const ordered =
    limits.sessionTimeoutMsMin <= limits.sessionTimeoutMsDefault &&
    limits.sessionTimeoutMsDefault <= limits.sessionTimeoutMsMax;
  if (!ordered) {
    throw new Error(
      `group limits: need sessionTimeoutMsMin ${limits.sessionTimeoutMsMin} <= sessionTimeoutMsDefault ` +
        `${limits.sessionTimeoutMsDefault} <= sessionTimeoutMsMax ${limits.sessionTimeoutMsMax}`,
    );
  }
  if (limits.topicsPerMemberMax > topicsPerMemberMax) {
    throw new Error(
      `group limit topicsPerMemberMax ${limits.topicsPerMemberMax} exceeds the protocol's ${topicsPerMemberMax}`,
    );
  }
  if (limits.offsetsPerCommitMax > offsetsPerCommitMax) {
    throw new Error(
      `group limit offsetsPerCommitMax ${limits.offsetsPerCommitMax} exceeds the protocol's ${offsetsPerCommitMax}`,
    );
  }
  return limits;
}
