import type { ClickHouseClient } from "@clickhouse/client";
import { Admin } from "../../src/broker-client/admin.ts";
import type { BrokerConnection } from "../../src/broker-client/connection.ts";
import { Consumer } from "../../src/broker-client/consumer.ts";
import { Producer } from "../../src/broker-client/producer.ts";
import { ping } from "../../src/clickhouse/ping.ts";
import { SourceSuffix } from "../../src/clickhouse/source-columns.ts";
import type { Logger } from "../../src/observability/logger.ts";
import { BatchInserter } from "./batch-inserter.ts";
import type { CollectorConfig } from "./config.ts";
import { DeadLetterSink, deadLetterBatchBytesMax } from "./dead-letters.ts";
import type { CollectorMetrics } from "./metrics.ts";
import type { OffsetRange } from "./offset-range.ts";
import { type PartitionLag, PartitionWriter } from "./partition-writer.ts";
import { StoredOffsetsGate } from "./stored-offsets-gate.ts";

export interface CollectorOptions {
  config: CollectorConfig;
  /** The broker and the token presented to it (from BROKER_URL, BROKER_TOKEN or BROKER_TOKEN_FILE). */
  broker: BrokerConnection;
  instanceId: string;
  /** Another process joined the group with this one's INSTANCE_ID: it must stop. */
  onFenced?: (error: unknown) => void;
  clickhouse: ClickHouseClient;
  metrics: CollectorMetrics;
  logger: Logger;
  clock: () => number;
  afterInsert?: (partition: number, range: OffsetRange) => void;
}

/**
 * One collector: a member of the consumer group whose batch handler writes to
 * ClickHouse (partition-writer.ts), plus the dead-letter topic it writes to.
 * `start` joins the group; `stop` finishes the batch in flight, commits and leaves.
 */
export class Collector {
  private constructor(
    private readonly consumer: Consumer,
    private readonly writer: PartitionWriter,
    private readonly inserter: BatchInserter,
    private readonly deadLetterProducer: Producer,
    private readonly options: CollectorOptions,
  ) {}

  static async start(options: CollectorOptions): Promise<Collector> {
    const { config, logger } = options;
    const admin = new Admin(options.broker);
    const info = await admin.ensureTopic(config.COLLECTOR_TOPIC);
    const topic = { name: info.name, id: info.createdAtMs };
    await admin.ensureTopic(config.COLLECTOR_DEAD_LETTER_TOPIC);
    const deadLetterProducer = await Producer.create({
      ...options.broker,
      topic: config.COLLECTOR_DEAD_LETTER_TOPIC,
      lingerMs: 0,
      // Room for a set-aside batch of deadLetterBatchBytesMax, base64 in JSON.
      batchBytesMax: 2 * deadLetterBatchBytesMax,
    });
    const backoff = {
      backoffMsMin: config.COLLECTOR_RETRY_BACKOFF_MS_MIN,
      backoffMsMax: config.COLLECTOR_RETRY_BACKOFF_MS_MAX,
    };
    const inserter = new BatchInserter({
      client: options.clickhouse,
      backoff,
      insertsInFlightMax: config.COLLECTOR_INSERTS_IN_FLIGHT_MAX,
      metrics: options.metrics,
      logger,
    });
    let consumer: Consumer | undefined;
    const writer = new PartitionWriter({
      topic: config.COLLECTOR_TOPIC,
      rowsMax: config.COLLECTOR_BATCH_ROWS_MAX,
      lingerMs: config.COLLECTOR_LINGER_MS,
      inserter,
      insertsInFlightMax: config.COLLECTOR_INSERTS_IN_FLIGHT_MAX,
      stored: new StoredOffsetsGate(options.clickhouse, topic),
      source: new SourceSuffix(topic),
      deadLetters: new DeadLetterSink(deadLetterProducer, options.metrics, logger),
      metrics: options.metrics,
      logger,
      clock: options.clock,
      commitProcessed: () => consumer?.commit() ?? Promise.resolve(),
      generation: () => consumer?.currentGeneration ?? 0,
      ...(options.afterInsert === undefined ? {} : { afterInsert: options.afterInsert }),
    });
    consumer = new Consumer({
      ...options.broker,
      group: config.COLLECTOR_GROUP,
      topics: [config.COLLECTOR_TOPIC],
      clientId: options.instanceId,
      // Static membership when the deployment names its processes (dev stack, chart).
      ...(config.INSTANCE_ID === "" ? {} : { instanceId: config.INSTANCE_ID }),
      ...(options.onFenced === undefined ? {} : { onFenced: options.onFenced }),
      eachBatch: writer.handle,
      sessionTimeoutMs: config.COLLECTOR_SESSION_TIMEOUT_MS,
      resetPolicy: "earliest",
      // The API's live tail (datapoint streams, live windows) shows a row once it is
      // committed: a quiet partition would otherwise wait for its next batch or the 1 s default.
      autoCommitIntervalMs: config.COLLECTOR_COMMIT_INTERVAL_MS,
      fetchBytesMax: config.COLLECTOR_FETCH_BYTES_MAX,
      inFlightBytesMax: config.COLLECTOR_BACKLOG_BYTES_MAX,
      backoff,
      onError: (error, where) => logger.warn({ err: error, where }, "consumer error (recovering)"),
    });
    await consumer.start();
    logger.info(
      { memberId: consumer.id, generation: consumer.currentGeneration, assigned: consumer.assigned() },
      "joined the group",
    );
    return new Collector(consumer, writer, inserter, deadLetterProducer, options);
  }

  get memberId(): string | undefined {
    return this.consumer.id;
  }

  assigned(): string[] {
    return this.consumer.assigned();
  }

  /** Lag of the partitions this member owns now. */
  lagRecords(): Map<string, PartitionLag> {
    const owned = new Set(this.consumer.assigned());
    return new Map([...this.writer.lag].filter(([key]) => owned.has(key)));
  }

  /** ClickHouse answers and the last insert did not fail. */
  async clickHouseReady(): Promise<boolean> {
    return !this.inserter.failing && (await ping(this.options.clickhouse));
  }

  async stop(): Promise<void> {
    this.writer.beginShutdown();
    await this.consumer.close();
    await this.deadLetterProducer.close();
    this.options.logger.info({}, "left the group");
  }
}
