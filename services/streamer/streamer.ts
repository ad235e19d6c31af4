import { tmpdir } from "node:os";
import { join } from "node:path";
import { brokerConnectionOf } from "../../src/auth/client-token.ts";
import { Admin } from "../../src/broker-client/admin.ts";
import type { BrokerConnection } from "../../src/broker-client/connection.ts";
import { PartitionClient } from "../../src/broker-client/partition-client.ts";
import { Producer } from "../../src/broker-client/producer.ts";
import { oversizedRequest, warnIfParserLimitLow } from "../../src/http/request-limits.ts";
import type { Logger } from "../../src/observability/logger.ts";
import { createMetricsRegistry, type Registry } from "../../src/observability/metrics.ts";
import { retry, startUpAttemptsMax, unlessAborted } from "../../src/runtime/retry.ts";
import { createStreamerApp, openUploadTokens } from "./app.ts";
import { BatchProducer } from "./batch-producer.ts";
import type { StreamerConfig } from "./config.ts";
import { runCsvLoop } from "./csv-loop.ts";
import { type DiscoveryPlan, discoveryFromConfig } from "./discovery/discovery-from-config.ts";
import { TargetDiscovery } from "./discovery/target-discovery.ts";
import { ExporterLoop } from "./exporter-loop.ts";
import { IdempotencyKeys } from "./idempotency-keys.ts";
import { StreamerMetrics } from "./metrics.ts";
import { PartitionOwnership } from "./ownership.ts";
import { produceReports } from "./produce-reports.ts";
import { ScheduledLoop } from "./scheduled-loop.ts";
import { CsvFileSource, csvFileSourceDefaults } from "./sources/csv-source.ts";
import { DcgmExporterSource } from "./sources/dcgm-exporter-source.ts";
import { RateLimiter } from "./sources/rate-limiter.ts";
import { TargetClaims } from "./target-claims.ts";
import type { UploadTarget } from "./upload-route.ts";
import { UploadSpool } from "./upload-spool.ts";

/**
 * Wires one streamer: topic and producer, group membership, the produce path, the
 * source loop and the HTTP server. Shutdown is split into the steps SIGTERM runs in
 * order: stop reading, flush, leave the group, close HTTP.
 */

export interface StreamerDeps {
  config: StreamerConfig;
  logger: Logger;
  instanceId: string;
  /** Aborted on shutdown; also ends a start-up still waiting for the broker. */
  signal: AbortSignal;
  /** Another process joined the group with this one's INSTANCE_ID: it must stop. */
  onFenced?: (error: unknown) => void;
}

/** The deps once the settings are resolved: the broker and the token presented to it. */
interface ResolvedDeps extends StreamerDeps {
  broker: BrokerConnection;
  /** The live source's targets (source dcgm-exporter); undefined with the CSV. */
  exporter: ExporterParts | undefined;
}

/** What the dcgm-exporter source shares with the rest of the streamer. */
interface ExporterParts {
  plan: DiscoveryPlan;
  discovery: TargetDiscovery;
  /** Set once the group membership exists; a hand-over releases the targets' scrapes through it. */
  claims: TargetClaims | undefined;
}

export interface RunningStreamer {
  port: number;
  producerId: number;
  partitionCount: number;
  /** The source loop; resolves when it ends (once mode: true when the pass read the whole file). */
  sourceDone: Promise<boolean>;
  stopReading(): Promise<void>;
  flush(): Promise<void>;
  leaveGroup(): Promise<void>;
  stopHttp(): Promise<void>;
  /** Records handed to the producer and not acknowledged: what exiting now drops. */
  unacknowledged(): number;
  metrics: StreamerMetrics;
}

/** Start-up's wait between attempts to reach the broker: from a quarter second up to 5 s. */
const connectBackoff = { backoffMsMin: 250, backoffMsMax: 5_000 };
/** Time a pass with nothing owned waits before the next one. */
const idleWaitMs = 200;
const retryWaitMs = 5_000;
const rejectionsLoggedMax = 20;
const readyTimeoutMs = 2_000;
const onceStableWaitMs = 10_000;
/** Heartbeat period while partitions move: granted ones are picked up this fast. */
const rebalanceHeartbeatMsMax = 200;
/** The loop looks for a new version of its CSV file this often. */
const fileCheckIntervalMs = 5_000;
/** Attempts of one discovery, and their backoff, before the last targets are kept until the next refresh. */
const discoveryRetry = { attemptsMax: 5, backoff: { backoffMsMin: 500, backoffMsMax: 8_000 } };

/**
 * Serves HTTP at once (/health answers while the broker is still unreachable), then
 * connects, joins the group and starts the source. Undefined when `signal` aborted
 * before the broker was reached.
 */
export async function startStreamer(options: StreamerDeps): Promise<RunningStreamer | undefined> {
  const { config, logger, instanceId, signal } = options;
  const broker = brokerConnectionOf(config, (problem) => logger.error({ problem }, "BROKER_TOKEN_FILE rejected"));
  const registry = createMetricsRegistry({ service: "streamer", instanceId });
  const metrics = new StreamerMetrics(registry);
  const exporter = config.STREAMER_SOURCE === "dcgm-exporter" ? newExporterParts(config, logger, metrics) : undefined;
  const deps: ResolvedDeps = { ...options, broker, exporter };
  let uploadTarget: UploadTarget | undefined;
  let ownership: PartitionOwnership | undefined;
  const http = serveHttp(deps, registry, metrics, { ownership: () => ownership, uploadTarget: () => uploadTarget });
  const { port } = http;
  const stopHttp = () => http.stop();

  const producer = await connect({ ...deps, metrics });
  if (producer === undefined) {
    await stopHttp();
    return undefined;
  }
  const batchProducer = newBatchProducer(config, producer, metrics);
  const flush = () => batchProducer.whilePaused(() => producer.flush());
  const readSignal = new AbortController();
  const sourceDeps = { ...deps, batchProducer, metrics, signal: readSignal.signal };
  const loop = scheduledLoopOf({ ...sourceDeps, producer, ownershipFlags: () => owner });
  const owner = newOwnership({ ...deps, producer, metrics, flush, loop });
  ownership = owner;
  uploadTarget = { batchProducer, flush };
  metrics.ownedGpuCount = () => batchProducer.ownedGpuCount(owner.flags);
  metrics.scheduleLagMs = () => loop?.lagMs(Date.now()) ?? 0;
  if (exporter !== undefined) claimTargets(exporter, owner, metrics);
  // The loop loads its file before the first partitions are granted (their take-over needs it).
  const loopDone = loop?.run().then(() => true);

  if (!(await owner.start(signal))) {
    // Shut down before the group was joined: nothing was produced, nothing to hand over.
    readSignal.abort();
    await loopDone;
    await producer.close();
    await stopHttp();
    return undefined;
  }
  if (config.STREAMER_MODE === "once") await owner.waitStable(onceStableWaitMs);
  const sourceDone = (loopDone ?? runSource({ ...sourceDeps, ownership: owner })).catch((error) => {
    logger.error({ err: error }, "source loop failed");
    return false;
  });
  logger.info(
    {
      producerId: producer.currentProducerId,
      partitions: producer.partitionCount,
      member: owner.member,
      source: config.STREAMER_SOURCE,
    },
    "streaming",
  );
  return {
    port,
    producerId: producer.currentProducerId,
    partitionCount: producer.partitionCount,
    sourceDone,
    stopReading: async () => {
      readSignal.abort();
      await sourceDone;
    },
    flush: async () => {
      await flush();
      logger.info(
        { produced: metrics.producedCount, acked: metrics.ackedCount, unacknowledged: producer.unacknowledgedRecords },
        "flushed",
      );
    },
    leaveGroup: () => owner.leave(),
    stopHttp,
    unacknowledged: () => producer.unacknowledgedRecords,
    metrics,
  };
}

/** /health, /ready, /metrics, /swagger and the upload, served before the broker is reached. */
function serveHttp(
  deps: ResolvedDeps,
  registry: Registry,
  metrics: StreamerMetrics,
  live: { ownership: () => PartitionOwnership | undefined; uploadTarget: () => UploadTarget | undefined },
): { port: number; stop(): Promise<void> } {
  const { config, logger } = deps;
  const uploadTokens = openUploadTokens(config, logger);
  const app = createStreamerApp({
    registry,
    logger,
    broker: deps.broker,
    uploadTokens: uploadTokens.store,
    joined: () => live.ownership()?.joined === true,
    ...(deps.exporter === undefined ? {} : { targetsDiscovered: () => deps.exporter?.discovery.ready === true }),
    readyTimeoutMs,
    upload: {
      target: live.uploadTarget,
      metrics,
      logger,
      bytesMax: config.STREAMER_UPLOAD_BYTES_MAX,
      batchRowsMax: config.STREAMER_BATCH_ROWS,
      spool: new UploadSpool(config.STREAMER_UPLOAD_SPOOL_DIR || join(tmpdir(), "streamer-uploads")),
      keys: new IdempotencyKeys({
        keysMax: config.STREAMER_IDEMPOTENCY_KEYS_MAX,
        ttlMs: config.STREAMER_IDEMPOTENCY_TTL_MS,
        nowMs: () => performance.now(),
      }),
    },
  });
  const server = Bun.serve({
    hostname: config.STREAMER_HOST,
    port: config.STREAMER_PORT,
    // Room above the limit so an oversized chunked body reaches the upload's JSON 413, not Bun's bare one.
    maxRequestBodySize: config.STREAMER_UPLOAD_BYTES_MAX * 2 + 1024 * 1024,
    fetch: (request) => oversizedRequest(request) ?? app.handle(request),
  });
  warnIfParserLimitLow(logger);
  const port = server.port ?? config.STREAMER_PORT;
  logger.info({ port, host: config.STREAMER_HOST }, "listening");
  return {
    port,
    stop: async () => {
      uploadTokens.stop();
      await server.stop();
    },
  };
}

interface LoopDeps extends ResolvedDeps {
  batchProducer: BatchProducer;
  producer: Producer;
  metrics: StreamerMetrics;
  /** The ownership, made after the loop (it calls the loop on hand-overs). */
  ownershipFlags: () => PartitionOwnership;
}

/** The CSV loop on the shared schedule; undefined for the other sources and modes. */
function scheduledLoopOf(deps: LoopDeps): ScheduledLoop | undefined {
  const { config, logger, batchProducer, producer, metrics, signal } = deps;
  if (config.STREAMER_SOURCE !== "csv" || config.STREAMER_MODE !== "loop") return undefined;
  const path = config.STREAMER_CSV_PATH;
  return new ScheduledLoop({
    source: new CsvFileSource({ ...csvFileSourceDefaults, path, batchRowsMax: config.STREAMER_BATCH_ROWS }),
    path,
    batchProducer,
    ownership: {
      get flags() {
        return deps.ownershipFlags().flags;
      },
      live: (nowMs) => deps.ownershipFlags().live(nowMs),
    },
    partitionCount: producer.partitionCount,
    rowsPerSecond: config.STREAMER_RATE_ROWS_PER_S,
    catchUpMsMax: config.STREAMER_CATCH_UP_MS_MAX,
    io: new PartitionClient(deps.broker),
    topic: config.STREAMER_TOPIC,
    metrics,
    logger,
    clock: Date.now,
    signal,
    retryWaitMs,
    fileCheckIntervalMs,
  });
}

function newBatchProducer(config: StreamerConfig, producer: Producer, metrics: StreamerMetrics): BatchProducer {
  const rate = config.STREAMER_RATE_ROWS_PER_S;
  // At a set rate, rows go out in chunks of about 50 ms worth, so the stream is smooth.
  const chunkRowsMax =
    rate === 0 ? config.STREAMER_BATCH_ROWS : Math.min(config.STREAMER_BATCH_ROWS, Math.max(1, Math.ceil(rate / 20)));
  const burstRowsMax = Math.max(chunkRowsMax, Math.ceil(rate / 10));
  const limiter = new RateLimiter({ rowsPerSecond: rate, burstRowsMax, clock: () => performance.now() });
  return new BatchProducer({ producer, metrics, limiter, chunkRowsMax, clock: Date.now, sleep: (ms) => Bun.sleep(ms) });
}

interface OwnershipDeps extends ResolvedDeps {
  producer: Producer;
  metrics: StreamerMetrics;
  flush: () => Promise<void>;
  loop: ScheduledLoop | undefined;
}

function newOwnership(deps: OwnershipDeps): PartitionOwnership {
  const { config, logger, instanceId, producer, metrics, flush, loop } = deps;
  return new PartitionOwnership({
    ...deps.broker,
    group: config.STREAMER_GROUP,
    topic: config.STREAMER_TOPIC,
    partitionCount: producer.partitionCount,
    clientId: instanceId,
    // Static membership when the deployment names its processes (dev stack, chart).
    ...(config.INSTANCE_ID === "" ? {} : { instanceId: config.INSTANCE_ID }),
    ...(deps.onFenced === undefined ? {} : { onFenced: deps.onFenced }),
    heartbeatMs: config.STREAMER_HEARTBEAT_MS,
    rebalanceHeartbeatMs: Math.min(config.STREAMER_HEARTBEAT_MS, rebalanceHeartbeatMsMax),
    sessionTimeoutMs: config.STREAMER_SESSION_TIMEOUT_MS,
    requestTimeoutMs: Math.floor(config.STREAMER_SESSION_TIMEOUT_MS / 3),
    onRevoked: async (partitions) => {
      // Scrapes of the targets these partitions hold end first (aborted or produced whole), then the flush.
      await deps.exporter?.claims?.release(partitions);
      await flush().catch((error) => countFlushError(metrics, logger, error));
      logger.info({ partitions }, "partitions revoked: flushed, handing over");
    },
    ...(loop === undefined
      ? {}
      : {
          onGranting: (partitions) => loop.takeOver(partitions),
          onReleased: (partitions) => loop.release(partitions),
        }),
    onChange: (owned) => {
      metrics.ownedPartitions.set(owned.length);
      logger.info({ owned, producerId: producer.currentProducerId }, "owned partitions");
    },
    onError: (error, where) => logger.warn({ err: error, where }, "group membership"),
    clock: Date.now,
  });
}

/** Ensures the topic and creates the producer, retrying while the broker is not reachable. */
async function connect(deps: ResolvedDeps & { metrics: StreamerMetrics }): Promise<Producer | undefined> {
  const { config, logger, signal } = deps;
  const admin = new Admin({ ...deps.broker, requestTimeoutMs: readyTimeoutMs * 2 });
  const attempt = async () => {
    const topic = await admin.ensureTopic(config.STREAMER_TOPIC);
    return await Producer.create({
      ...deps.broker,
      topic: config.STREAMER_TOPIC,
      partitionCount: topic.partitions.length,
      batchBytesMax: config.STREAMER_BATCH_BYTES_MAX,
      lingerMs: config.STREAMER_LINGER_MS,
      bufferBytesMax: config.STREAMER_BUFFER_BYTES_MAX,
      deliveryTimeoutMs: config.STREAMER_DELIVERY_TIMEOUT_MS,
      clock: Date.now,
      ...produceReports(deps.metrics, logger, () => performance.now()),
    });
  };
  return await unlessAborted(
    retry(attempt, {
      attemptsMax: startUpAttemptsMax,
      backoff: connectBackoff,
      signal,
      onRetry: ({ error, attempt: attemptNumber, delayMs }) =>
        logger.warn(
          { err: error, brokerUrl: config.BROKER_URL, attempt: attemptNumber, waitMs: delayMs },
          "broker not reachable yet",
        ),
    }),
  );
}

interface SourceDeps extends ResolvedDeps {
  batchProducer: BatchProducer;
  ownership: PartitionOwnership;
  metrics: StreamerMetrics;
}

async function runSource(deps: SourceDeps): Promise<boolean> {
  const { config, logger, signal, batchProducer, ownership, metrics } = deps;
  if (deps.exporter !== undefined) {
    await runExporter(deps, deps.exporter);
    return true;
  }
  const path = config.STREAMER_CSV_PATH;
  const source = new CsvFileSource({ ...csvFileSourceDefaults, path, batchRowsMax: config.STREAMER_BATCH_ROWS });
  const options = { source, path, mode: config.STREAMER_MODE, batchProducer, ownership, metrics, logger, signal };
  return await runCsvLoop({ ...options, idleWaitMs, retryWaitMs, rejectionsLoggedMax });
}

function newExporterParts(config: StreamerConfig, logger: Logger, metrics: StreamerMetrics): ExporterParts {
  const plan = discoveryFromConfig(config);
  const discovery = new TargetDiscovery({
    discover: plan.discover,
    refreshMs: plan.refreshMs,
    ...discoveryRetry,
    logger,
    onFailure: () => metrics.discoveryFailures.inc(),
    urlsLoggedMax: 20,
  });
  return { plan, discovery, claims: undefined };
}

/** The targets are claimed through the group's partitions, and counted for /metrics. */
function claimTargets(exporter: ExporterParts, owner: PartitionOwnership, metrics: StreamerMetrics): void {
  const claims = new TargetClaims(owner, Date.now);
  exporter.claims = claims;
  metrics.targetCounts = () => {
    const targets = exporter.discovery.current();
    return { known: targets.length, owned: claims.ownedCount(targets) };
  };
}

/** Discovery and the scrape loop, both until the read signal aborts. */
async function runExporter(deps: SourceDeps, exporter: ExporterParts): Promise<void> {
  const { config, logger, signal, batchProducer, ownership, metrics } = deps;
  const claims = exporter.claims;
  if (claims === undefined) throw new Error("exporter source started before its target claims");
  logger.info(exporter.plan.describe, "exporter discovery");
  const discovering = exporter.discovery.run(signal);
  const source = new DcgmExporterSource({
    timeoutMs: config.STREAMER_SCRAPE_TIMEOUT_MS,
    bodyBytesMax: 64 * 1024 * 1024,
    samplesPerScrapeMax: 1_000_000,
    batchRowsMax: config.STREAMER_BATCH_ROWS,
    errorsKeptMax: 10,
    userAgent: `gpu-telemetry-streamer/${deps.instanceId}`,
    clock: Date.now,
  });
  const loop = new ExporterLoop({
    source,
    targets: () => exporter.discovery.current(),
    claims,
    batchProducer,
    ownership,
    metrics,
    logger,
    signal,
    intervalMs: config.STREAMER_SCRAPE_INTERVAL_MS,
    concurrencyMax: config.STREAMER_SCRAPE_CONCURRENCY_MAX,
  });
  metrics.ownedGpuCount = () => loop.gpuCount;
  await Promise.all([loop.run(), discovering]);
}

function countFlushError(metrics: StreamerMetrics, logger: Logger, error: unknown): void {
  metrics.produceErrors.inc();
  logger.error({ err: error }, "producer flush failed: records may be lost");
}
