import { randomUUID } from "node:crypto";
import { mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import { fsyncDirectory, unlinkDurably } from "../files/atomic-file.ts";
import {
  InvalidTopicError,
  isDiskFull,
  LogClosedError,
  TopicExistsError,
  UnknownPartitionError,
  UnknownTopicError,
  whileWriting,
} from "./errors.ts";
import {
  deletedPartitionDirName,
  isDeletedDirName,
  looksLikePartitionDirName,
  parseTopicMetadataName,
  partitionDirName,
  partitionDirPath,
  topicMetadataPath,
} from "./file-names.ts";
import { type Clock, type LogManagerApi, type LogManagerOptions, systemClock } from "./log-api.ts";
import { type LogConfig, type TopicOverrides, topicConfig } from "./log-config.ts";
import { PartitionLog } from "./partition-log.ts";
import { readTopicMetadata, type TopicInfo, validateNewTopic, writeTopicMetadata } from "./topic-metadata.ts";

/** How often retention runs in the background. */
export const retentionCheckIntervalMs = 60_000;

interface Topic {
  info: TopicInfo;
  partitions: PartitionLog[];
  /** Set while deleteTopic runs: the topic is still found (its logs answer LogClosedError), never deleted twice. */
  deleting?: boolean;
}

/**
 * All topics of one data directory: `<dataDir>/<topic>.topic.json` names a topic,
 * `<dataDir>/<topic>-<partition>/` holds each partition's segments. Opening loads
 * (and recovers) every partition and removes partition directories of no topic;
 * background timers fsync (interval policy), checkpoint recovery points and apply
 * retention.
 *
 * The metadata file is the topic: created last, deleted first. So a directory
 * without one is the debris of a create or a delete cut short, and goes at the
 * next open (a topic created again under that name must not find old segments).
 */
export class LogManager implements LogManagerApi {
  readonly config: LogConfig;
  readonly dataDir: string;
  private readonly clock: Clock;
  private readonly logger: Logger | undefined;
  private readonly topics = new Map<string, Topic>();
  private readonly timers: Array<ReturnType<typeof setInterval>> = [];
  /** Directories of deleted topics, removed fileDeleteDelayMs after the delete (or at close). */
  private readonly pendingDirDeletes = new Map<ReturnType<typeof setTimeout>, () => void>();
  private closed = false;

  private constructor(options: LogManagerOptions) {
    this.config = options.config;
    this.dataDir = options.dataDir;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger;
  }

  static async open(options: LogManagerOptions): Promise<LogManager> {
    mkdirSync(options.dataDir, { recursive: true });
    const manager = new LogManager(options);
    for (const name of readdirSync(options.dataDir).sort()) {
      const topic = parseTopicMetadataName(name);
      if (topic !== undefined) manager.loadTopic(readTopicMetadata(options.dataDir, topic));
    }
    manager.removeStrayDirectories();
    manager.startTimers();
    return manager;
  }

  private loadTopic(info: TopicInfo): Topic {
    const config = topicConfig(this.config, info.overrides);
    const partitions: PartitionLog[] = [];
    try {
      for (let partition = 0; partition < info.partitions; partition++) {
        const dir = partitionDirPath(this.dataDir, info.name, partition);
        partitions.push(
          PartitionLog.open({ topic: info.name, partition, dir, config, clock: this.clock, logger: this.logger }),
        );
      }
    } catch (error) {
      for (const log of partitions) void log.close();
      throw error;
    }
    const topic = { info, partitions };
    this.topics.set(info.name, topic);
    return topic;
  }

  /** Partition directories no loaded topic owns: a create or delete cut short (see the class comment). */
  private removeStrayDirectories(): void {
    const owned = new Set<string>();
    for (const topic of this.topics.values()) {
      for (let partition = 0; partition < topic.info.partitions; partition++)
        owned.add(partitionDirName(topic.info.name, partition));
    }
    for (const entry of readdirSync(this.dataDir, { withFileTypes: true })) {
      if (!entry.isDirectory() || owned.has(entry.name)) continue;
      const deleted = isDeletedDirName(entry.name);
      if (!deleted && !looksLikePartitionDirName(entry.name)) continue;
      rmSync(join(this.dataDir, entry.name), { recursive: true, force: true });
      const why = deleted ? "the rest of a deleted topic" : "a partition directory of no topic";
      this.logger?.warn({ dir: join(this.dataDir, entry.name) }, `removed ${why}`);
    }
  }

  private startTimers(): void {
    const every = (intervalMs: number, task: () => Promise<unknown> | unknown, what: string) => {
      const timer = setInterval(() => {
        Promise.resolve()
          .then(task)
          .catch((error: unknown) => {
            // A full disk postpones checkpoints (recovery then starts further back): a warning, not an error.
            if (isDiskFull(error)) this.logger?.warn({ err: error }, `${what} postponed: disk full`);
            else this.logger?.error({ err: error }, `${what} failed`);
          });
      }, intervalMs);
      timer.unref();
      this.timers.push(timer);
    };
    if (this.config.flush === "interval")
      every(this.config.flushIntervalMs, () => this.flushPartitions(), "interval flush");
    every(this.config.checkpointIntervalMs, () => this.checkpointAll(), "checkpoint");
    every(retentionCheckIntervalMs, () => this.applyRetention(this.clock.nowMs()), "retention");
  }

  async createTopic(name: string, partitions: number, overrides: TopicOverrides = {}): Promise<TopicInfo> {
    this.assertOpen();
    const info: TopicInfo = { name, partitions, overrides, createdAtMs: this.clock.nowMs() };
    validateNewTopic(info, this.config);
    if (this.topics.has(name)) throw new TopicExistsError(name);
    if (this.topics.size >= this.config.topicsMax) {
      throw new InvalidTopicError(`already ${this.topics.size} topics (topicsMax ${this.config.topicsMax})`);
    }
    // Partition directories first, metadata last: a crash in between leaves no half topic,
    // and neither does a full disk (the loaded partitions are closed again).
    const topic = this.loadTopic(info);
    try {
      whileWriting(
        () => `writing the metadata of topic ${name}`,
        () => writeTopicMetadata(this.dataDir, info),
      );
    } catch (error) {
      this.topics.delete(name);
      await Promise.all(topic.partitions.map((log) => log.close()));
      throw error;
    }
    this.logger?.info({ topic: name, partitions, overrides }, "created topic");
    return info;
  }

  /**
   * Deletes a topic. Its metadata goes first, durably: from then on a restart does not
   * load it, and the next open removes whatever else is left. Then its partitions are
   * closed (flushed, waiters woken) and their directories renamed to `*.deleted`, whose
   * files go fileDeleteDelayMs later. A request that reaches a partition meanwhile gets
   * LogClosedError (retryable); after that, UnknownTopicError.
   */
  async deleteTopic(name: string): Promise<TopicInfo> {
    this.assertOpen();
    const topic = this.topics.get(name);
    if (topic === undefined || topic.deleting === true) throw new UnknownTopicError(name);
    topic.deleting = true;
    try {
      await unlinkDurably(topicMetadataPath(this.dataDir, name));
    } catch (error) {
      topic.deleting = false;
      throw error;
    }
    try {
      await Promise.all(topic.partitions.map((log) => log.close()));
      this.moveAside(topic);
    } finally {
      this.topics.delete(name);
    }
    this.logger?.info({ topic: name, partitions: topic.info.partitions }, "deleted topic");
    return topic.info;
  }

  /** Renames a deleted topic's partition directories out of the way and schedules their removal. */
  private moveAside(topic: Topic): void {
    const stamp = randomUUID().replaceAll("-", "");
    const moved: string[] = [];
    for (const log of topic.partitions) {
      const target = join(this.dataDir, deletedPartitionDirName(topic.info.name, log.partition, stamp));
      renameSync(log.dir, target);
      moved.push(target);
    }
    fsyncDirectory(this.dataDir);
    const remove = () => {
      for (const dir of moved) rmSync(dir, { recursive: true, force: true });
    };
    const timer = setTimeout(() => {
      this.pendingDirDeletes.delete(timer);
      remove();
    }, this.config.fileDeleteDelayMs);
    timer.unref();
    this.pendingDirDeletes.set(timer, remove);
  }

  listTopics(): TopicInfo[] {
    return [...this.topics.values()].map((topic) => topic.info).sort((a, b) => a.name.localeCompare(b.name));
  }

  topic(name: string): TopicInfo | undefined {
    return this.topics.get(name)?.info;
  }

  partition(topic: string, partition: number): PartitionLog {
    this.assertOpen();
    const found = this.topics.get(topic);
    if (found === undefined) throw new UnknownTopicError(topic);
    const log = Number.isInteger(partition) ? found.partitions[partition] : undefined;
    if (log === undefined) throw new UnknownPartitionError(topic, partition, found.partitions.length);
    return log;
  }

  /** Every partition log of a topic, by partition number. */
  partitions(topic: string): readonly PartitionLog[] {
    const found = this.topics.get(topic);
    if (found === undefined) throw new UnknownTopicError(topic);
    return found.partitions;
  }

  applyRetention(nowMs: number): number {
    let deleted = 0;
    for (const log of this.allPartitions()) deleted += log.applyRetention(nowMs);
    return deleted;
  }

  totalSizeBytes(): number {
    let total = 0;
    for (const log of this.allPartitions()) total += log.sizeBytes;
    return total;
  }

  async flushAll(): Promise<void> {
    await this.flushPartitions();
    await this.checkpointAll();
  }

  private async flushPartitions(): Promise<void> {
    await Promise.all(this.allPartitions().map((log) => log.flush()));
  }

  private async checkpointAll(): Promise<void> {
    await Promise.all(this.allPartitions().map((log) => log.checkpoint()));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    await Promise.all(this.allPartitions().map((log) => log.close()));
    this.topics.clear();
    for (const [timer, remove] of this.pendingDirDeletes) {
      clearTimeout(timer);
      remove();
    }
    this.pendingDirDeletes.clear();
  }

  private allPartitions(): PartitionLog[] {
    return [...this.topics.values()].flatMap((topic) => topic.partitions);
  }

  private assertOpen(): void {
    if (this.closed) throw new LogClosedError(`log manager for ${this.dataDir} is closed`);
  }
}
