import { type GroupErrorCode, GroupErrorStatus } from "../../src/broker-protocol/group-protocol.ts";

/**
 * Refusals of the group coordinator. Each carries a machine-readable code and the
 * HTTP status the server should answer with; `retryable` says whether the same
 * request may succeed later without the client changing anything.
 */
export class GroupError extends Error {
  override name = "GroupError";
  readonly httpStatus: number;

  constructor(
    readonly code: GroupErrorCode,
    message: string,
    readonly retryable = false,
  ) {
    super(message);
    this.httpStatus = GroupErrorStatus[code];
  }

  body(): { error: GroupErrorCode; message: string; retryable: boolean } {
    return { error: this.code, message: this.message, retryable: this.retryable };
  }
}

/** The request carries a generation the member may no longer act on: heartbeat, then retry. */
export class StaleGenerationError extends GroupError {
  override name = "StaleGenerationError";
  constructor(
    readonly group: string,
    readonly generationGiven: number,
    readonly generationCurrent: number,
    detail: string,
  ) {
    super("stale_generation", `group ${group}: generation ${generationGiven} ${detail} (current ${generationCurrent})`);
  }
}

/** The member id is not (or no longer) in the group, e.g. evicted: stop everything and join anew. */
export class UnknownMemberError extends GroupError {
  override name = "UnknownMemberError";
  constructor(
    readonly group: string,
    readonly memberId: string,
  ) {
    super(
      "unknown_member",
      `group ${group}: member ${memberId} is unknown or was evicted; join again without memberId`,
    );
  }
}

/** The member id was replaced by a newer process with the same instance id: stop for good. */
export class FencedInstanceError extends GroupError {
  override name = "FencedInstanceError";
  constructor(
    readonly group: string,
    readonly memberId: string,
    readonly instanceId: string,
  ) {
    super(
      "fenced_instance",
      `group ${group}: member ${memberId} was replaced by a newer member with instance id ${instanceId}; two processes share that id`,
    );
  }
}

/** A commit names a partition the member does not own. */
export class NotAssignedError extends GroupError {
  override name = "NotAssignedError";
  constructor(
    readonly group: string,
    readonly memberId: string,
    readonly topic: string,
    readonly partition: number,
  ) {
    super("not_assigned", `group ${group}: member ${memberId} does not own ${topic}/${partition}`);
  }
}

/** An offset reset names a partition a member owns: it must leave (or time out) first. */
export class PartitionOwnedError extends GroupError {
  override name = "PartitionOwnedError";
  constructor(
    readonly group: string,
    readonly owned: readonly string[],
  ) {
    super(
      "partition_owned",
      `group ${group}: ${owned.join(", ")} owned by a member; its members must leave or time out before a reset`,
    );
  }
}

export class UnknownGroupError extends GroupError {
  override name = "UnknownGroupError";
  constructor(readonly group: string) {
    super("unknown_group", `group ${group} does not exist`);
  }
}

export class UnknownTopicError extends GroupError {
  override name = "UnknownTopicError";
  constructor(
    readonly group: string,
    readonly topic: string,
  ) {
    super("unknown_topic", `group ${group}: topic ${topic} does not exist`);
  }
}

/** The request is malformed or outside a fixed bound (names, session timeout, counts). */
export class InvalidGroupRequestError extends GroupError {
  override name = "InvalidGroupRequestError";
  constructor(message: string) {
    super("bad_request", message);
  }
}

/** A capacity limit (groups, members per group, partitions per group) is reached; may clear later. */
export class GroupLimitError extends GroupError {
  override name = "GroupLimitError";
  constructor(
    readonly limit: string,
    readonly limitValue: number,
    message: string,
  ) {
    super("group_limit", `${message} (${limit} ${limitValue})`, true);
  }
}

/** The coordinator is shutting down; another broker instance (or this one restarted) will answer. */
export class CoordinatorClosedError extends GroupError {
  override name = "CoordinatorClosedError";
  constructor(readonly dataDir: string) {
    super("shutting_down", `group coordinator on ${dataDir} is closed`, true);
  }
}
