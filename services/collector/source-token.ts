import { createHash } from "node:crypto";
import type { SourceTopic } from "../../src/clickhouse/source-columns.ts";

/**
 * The dedup token of one insert: a hash of exactly which rows its body holds (the
 * topic's incarnation, then per member its partition and its runs of offsets), so
 * two bodies share a token only when they hold the same rows. A retry of the same
 * body is then stored once, and a body that skipped stored rows can never be taken
 * for one that did not (a range's token alone could be: the smaller body would be
 * dropped as a duplicate and its rows lost).
 */
export function sourceDedupToken(
  topic: SourceTopic,
  members: readonly { partition: number; offsets: readonly number[] }[],
): string {
  if (members.length === 0) throw new RangeError("sourceDedupToken: no members");
  const hash = createHash("sha256");
  for (const member of members) {
    hash.update(`|${member.partition}:`);
    const { offsets } = member;
    let runStart = 0;
    for (let index = 1; index <= offsets.length; index += 1) {
      const ended = index === offsets.length || offsets[index] !== (offsets[index - 1] as number) + 1;
      if (!ended) continue;
      hash.update(`${offsets[runStart]}-${offsets[index - 1]},`);
      runStart = index;
    }
  }
  return `${topic.name}/${topic.id}/${hash.digest("hex")}`;
}
