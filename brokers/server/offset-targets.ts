import type { OffsetResetTarget, ResetOffsetsRequest } from "../../src/broker-protocol/group-protocol.ts";
import type { OffsetReset } from "../groups/group-coordinator.ts";
import type { LogManagerApi, PartitionLogApi } from "../log/log-api.ts";
import { BrokerHttpError } from "./http-error.ts";

/**
 * Turns an operator's reset targets into offsets against the log as it is now: a time
 * through the partition's time index (the first record at or after it), an end of the
 * log through its bounds. The coordinator then checks ownership and bounds, knowing
 * nothing of the log.
 */
export function resolveResetTargets(log: LogManagerApi, request: ResetOffsetsRequest): OffsetReset {
  const { topic } = request;
  const info = log.topic(topic);
  if (info === undefined) throw new BrokerHttpError("unknown_topic", `unknown topic "${topic}"`);
  const offsets = request.offsets.map((target) => {
    if (target.partition >= info.partitions) {
      const message = `topic "${topic}" has ${info.partitions} partitions, no partition ${target.partition}`;
      throw new BrokerHttpError("bad_request", message);
    }
    return { partition: target.partition, offset: targetOffset(log.partition(topic, target.partition), target) };
  });
  return { topic, offsets, dryRun: request.dryRun ?? false };
}

function targetOffset(partition: PartitionLogApi, target: OffsetResetTarget): number {
  const given = [target.offset, target.timestampMs, target.position].filter((value) => value !== undefined);
  if (given.length !== 1) {
    const message = `partition ${target.partition}: give exactly one of offset, timestampMs and position (got ${given.length})`;
    throw new BrokerHttpError("bad_request", message);
  }
  if (target.offset !== undefined) return target.offset;
  if (target.timestampMs !== undefined) return partition.offsetForTimestamp(target.timestampMs);
  return target.position === "earliest" ? partition.logStartOffset : partition.highWatermark;
}
