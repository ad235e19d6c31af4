import { TypeCompiler } from "@sinclair/typebox/compiler";
import type { PartitionClient } from "../../src/broker-client/partition-client.ts";
import type { Logger } from "../../src/observability/logger.ts";
import { InsertIntent } from "./offset-range.ts";

/** Recovery reads intents backwards this many at a time (a batch usually writes one). */
export const intentsWindow = 64;
/** Recovery gives up (loudly) past this many intents after the committed offset. */
export const intentsScanMax = 100_000;
const intentsFetchBytesMax = 1024 * 1024;
const intentChecker = TypeCompiler.Compile(InsertIntent);

/** The intents topic of a group and source topic: one per pair, so two groups never mix. */
export function intentsTopicName(group: string, topic: string): string {
  return `${topic}.${group}.intents`;
}

/**
 * A write-ahead log of the offset ranges a collector is about to insert, one broker
 * partition per source partition. Batches are cut by row count and by timing (linger,
 * what a fetch happened to return), so a replay cannot recompute them; it reads them
 * here instead and re-inserts the same ranges with the same dedup tokens.
 * (The same idea as ClickHouse's Kafka Connect sink, which keeps its ranges in KeeperMap.)
 */
export class InsertIntentLog {
  constructor(
    private readonly io: PartitionClient,
    readonly topic: string,
    private readonly clock: () => number,
    private readonly logger: Logger,
  ) {}

  /** Resolves once the broker has the ranges; only then may they be inserted. */
  async write(partition: number, intents: readonly InsertIntent[]): Promise<void> {
    // Only the schema's fields; JSON leaves `group` out when a lone range has none.
    const values = intents.map((intent) =>
      JSON.stringify({ first: intent.first, last: intent.last, group: intent.group }),
    );
    const timestampMs = this.clock();
    const records = values.map((value) => ({ key: String(partition), value, timestampMs }));
    await this.io.append({ topic: this.topic, partition, records });
  }

  /**
   * The partition's latest intents, oldest first: read backwards a window at a time
   * until one starts at or before `resumeOffset` (everything older is committed), or
   * the log starts. More than intentsScanMax uncommitted intents is an explicit error.
   */
  async readSince(partition: number, resumeOffset: number): Promise<InsertIntent[]> {
    const info = await this.io.describeTopic(this.topic);
    const bounds = info.partitions.find((entry) => entry.partition === partition);
    if (bounds === undefined) throw new Error(`intents topic ${this.topic} has no partition ${partition}`);
    let intents: InsertIntent[] = [];
    let end = bounds.highWatermark;
    while (end > bounds.logStartOffset) {
      if (bounds.highWatermark - end >= intentsScanMax) {
        throw new Error(
          `${this.topic}/${partition}: no intent at or before offset ${resumeOffset} in the last ${intentsScanMax}`,
        );
      }
      const start = Math.max(bounds.logStartOffset, end - intentsWindow);
      const window = await this.readWindow(partition, start, end - 1);
      intents = [...window, ...intents];
      if (window.some((intent) => intent.first <= resumeOffset)) break;
      end = start;
    }
    return intents;
  }

  private async readWindow(partition: number, fromOffset: number, throughOffset: number): Promise<InsertIntent[]> {
    const read = await this.io.readRange({
      topic: this.topic,
      partition,
      fromOffset,
      throughOffset,
      fetchBytesMax: intentsFetchBytesMax,
    });
    const intents: InsertIntent[] = [];
    const decoder = new TextDecoder();
    for (const record of read.records) {
      const parsed = parseIntent(decoder.decode(record.value));
      if (parsed === undefined) {
        this.logger.warn({ topic: this.topic, partition, offset: record.offset }, "ignoring a malformed insert intent");
        continue;
      }
      intents.push(parsed);
    }
    return intents;
  }
}

function parseIntent(text: string): InsertIntent | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return intentChecker.Check(parsed) && parsed.last >= parsed.first ? parsed : undefined;
  } catch {
    return undefined;
  }
}
