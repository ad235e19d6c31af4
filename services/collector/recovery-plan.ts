import type { InsertIntent } from "./offset-range.ts";

export interface RecoveryPlan {
  /** Offsets up to and including this one are in ClickHouse already; -1 when none are. */
  skipThroughOffset: number;
  /** Announced ranges from the resume point on, to insert again exactly as announced. */
  announced: InsertIntent[];
}

/**
 * What a new owner of a partition must do before cutting batches of its own, given
 * the offset it resumes at (the committed one) and the partition's latest insert
 * intents, oldest first.
 *
 * Invariants the collector keeps (partition-writer.ts): an intent is written before
 * its insert; a batch's offsets are committed only after all of its intents' inserts
 * succeeded; a new batch's intents are written only after the previous batch's
 * offsets were committed. So:
 * - an intent that ends before the resume point is done;
 * - an intent that strictly contains the resume point was inserted in full (the
 *   commit inside it followed its insert): skip through its end;
 * - intents from the resume point on may or may not be in ClickHouse: insert them
 *   again with the same ranges, hence the same dedup tokens, and ClickHouse keeps one copy.
 * When an offset was announced twice the newest intent wins (it is the one a later
 * owner worked from). An intent keeps its group: the replay inserts the whole group.
 */
export function planRecovery(resumeOffset: number, intents: readonly InsertIntent[]): RecoveryPlan {
  const newestByFirst = new Map<number, InsertIntent>();
  let skipThroughOffset = -1;
  for (const intent of intents) {
    newestByFirst.set(intent.first, intent);
    if (intent.first < resumeOffset && intent.last >= resumeOffset)
      skipThroughOffset = Math.max(skipThroughOffset, intent.last);
  }
  const announced: InsertIntent[] = [];
  let next = skipThroughOffset >= 0 ? skipThroughOffset + 1 : resumeOffset;
  for (let count = 0; count < intents.length; count++) {
    const intent = newestByFirst.get(next);
    if (intent === undefined || intent.last < next) break;
    announced.push(intent);
    next = intent.last + 1;
  }
  return { skipThroughOffset, announced };
}
