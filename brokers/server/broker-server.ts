import { statfsSync } from "node:fs";
import { join } from "node:path";
import type { Server } from "bun";
import { oversizedRequest, warnIfParserLimitLow } from "../../src/http/request-limits.ts";
import type { GuardedRoute } from "../../src/http/route-guard.ts";
import type { Logger } from "../../src/observability/logger.ts";
import { createMetricsRegistry, type Registry } from "../../src/observability/metrics.ts";
import { type MonotonicClock, monotonicMs } from "../../src/runtime/clock.ts";
import { GroupCoordinator } from "../groups/group-coordinator.ts";
import type { Clock } from "../log/log-api.ts";
import { makeLogConfig } from "../log/log-config.ts";
import { LogManager } from "../log/log-manager.ts";
import { createBrokerApp } from "./app.ts";
import { openBrokerTokens } from "./broker-access.ts";
import type { BrokerContext } from "./broker-context.ts";
import { createBrokerMetrics } from "./broker-metrics.ts";
import { type BrokerConfig, protectedTopicsOf, serverLimits } from "./config.ts";
import { partitionBounds } from "./group-routes.ts";
import { InFlightGate } from "./in-flight-gate.ts";
import { ProducerIdAllocator } from "./producer-ids.ts";

export interface BrokerServerOptions {
  config: BrokerConfig;
  logger: Logger;
  instanceId: string;
  /** Wall clock of the log: segment age, retention (record timestamps are wall time). */
  clock?: Clock;
  /** Group sessions and revocation timeouts (never the wall clock: a clock step must not evict). */
  monotonicClock?: MonotonicClock;
  registry?: Registry;
  /** Benchmark only (test/bench/broker): false skips the record check to measure its cost. Default true. */
  checkRecords?: boolean;
}

/** A running broker: its address, and the ordered shutdown steps. */
export interface BrokerServer {
  url: string;
  port: number;
  context: BrokerContext;
  /** Every route served, with the scopes it needs (as the route guard checks them). */
  guardedRoutes: readonly GuardedRoute[];
  /** Refuse new produce requests and end long-polls (503 shutting_down). */
  stopIntake(): void;
  /** Stop listening once in-flight requests have finished (their appends are acknowledged). */
  drainRequests(): Promise<void>;
  /** Flush the log, write recovery checkpoints and group state, close files. */
  closeStorage(): Promise<void>;
  /** All of the above, in order. */
  stop(): Promise<void>;
}

const diskCheckMs = 1_000;

/** Opens storage and groups, then listens. Recovery of the log happens inside LogManager.open. */
export async function startBroker(options: BrokerServerOptions): Promise<BrokerServer> {
  const { config, logger } = options;
  const clock = options.clock ?? { nowMs: () => Date.now() };
  const dataDir = config.BROKER_DATA_DIR;
  // Before storage opens: a token misconfiguration must not leave the log open behind it.
  const tokens = openBrokerTokens(config, logger);
  const log = await LogManager.open({ dataDir: join(dataDir, "log"), config: logConfigOf(config), clock, logger });
  const groups = await GroupCoordinator.open({
    dataDir: join(dataDir, "groups"),
    clock: options.monotonicClock ?? monotonicMs,
    partitionCount: (topic) => log.topic(topic)?.partitions,
    limits: { sessionTimeoutMsDefault: config.BROKER_GROUP_SESSION_TIMEOUT_MS },
    // Retried with backoff while it fails: the first failure and then every 20th are logged.
    onFlushError: (error, failures) => {
      if (failures === 1 || failures % 20 === 0)
        logger.error({ err: error, failures }, "group checkpoint write failed; retrying (commits get 503 meanwhile)");
    },
  });
  const registry = options.registry ?? createMetricsRegistry({ service: "broker", instanceId: options.instanceId });
  const context = buildContext(options, log, registry, groups);
  const { app, guardedRoutes } = createBrokerApp({
    context,
    registry,
    checks: [{ name: "storage", check: () => !context.lifecycle.stopping }],
    groups,
    tokens: tokens?.store,
  });
  const server = Bun.serve({
    hostname: config.BROKER_HOST,
    port: config.BROKER_PORT,
    // Room above requestBytesMax so a slightly-too-large request gets our JSON 413, not a bare one.
    maxRequestBodySize: context.limits.requestBytesMax * 2 + 64 * 1024,
    idleTimeout: Math.min(255, Math.ceil(context.limits.waitMsMax / 1000) + 30),
    fetch: (request) => oversizedRequest(request) ?? app.handle(request),
  });
  warnIfParserLimitLow(logger);
  const timers = startTimers(context, groups, config);
  return serverHandle(server, context, groups, { timers, stopTokens: () => tokens?.stop(), guardedRoutes });
}

/**
 * The log enforces its own bounds too. The server checks its limits first, so the
 * log's are set no tighter (an append never exceeds a request, nor a segment).
 */
function logConfigOf(config: BrokerConfig) {
  const segmentBytesMax = config.BROKER_SEGMENT_BYTES_MAX;
  const appendBytesMax = Math.max(1024, Math.min(config.BROKER_REQUEST_BYTES_MAX, segmentBytesMax));
  const batchBytesMax = Math.max(1024, Math.min(config.BROKER_BATCH_BYTES_MAX, appendBytesMax));
  return makeLogConfig({
    flush: config.BROKER_FLUSH,
    flushIntervalMs: config.BROKER_FLUSH_INTERVAL_MS,
    segmentBytesMax,
    segmentMsMax: config.BROKER_SEGMENT_AGE_MS_MAX,
    retentionMs: config.BROKER_RETENTION_MS_MAX,
    retentionBytes: config.BROKER_RETENTION_BYTES_MAX === 0 ? -1 : config.BROKER_RETENTION_BYTES_MAX,
    batchBytesMax,
    appendBytesMax,
    waitMsMax: config.BROKER_WAIT_MS_MAX,
    fileDeleteDelayMs: config.BROKER_FILE_DELETE_DELAY_MS,
  });
}

function buildContext(
  options: BrokerServerOptions,
  log: LogManager,
  registry: Registry,
  groups: GroupCoordinator,
): BrokerContext {
  const { config, logger } = options;
  const limits = serverLimits(config);
  const context: BrokerContext = {
    log,
    limits,
    gate: new InFlightGate(limits.inFlightBytesMax),
    metrics: createBrokerMetrics(registry, {
      partitions: () => allPartitionInfos(log),
      lags: () => groups.lagAll((topic, partition) => partitionBounds(context, topic, partition)),
      disk: () => context.disk,
    }),
    logger,
    producerIds: new ProducerIdAllocator(config.BROKER_DATA_DIR),
    checkRecords: options.checkRecords ?? true,
    topicDefaults: { partitions: config.BROKER_DEFAULT_PARTITIONS, autoCreate: config.BROKER_AUTO_CREATE_TOPICS },
    protectedTopics: protectedTopicsOf(config),
    disk: { belowWatermark: false, freeBytes: Number.POSITIVE_INFINITY, totalBytes: 0 },
    lifecycle: { stopping: false, abort: new AbortController() },
  };
  checkDisk(context, config.BROKER_DATA_DIR);
  return context;
}

function allPartitionInfos(log: LogManager) {
  const infos = [];
  for (const topic of log.listTopics()) {
    for (let partition = 0; partition < topic.partitions; partition += 1) {
      infos.push(log.partition(topic.name, partition).info());
    }
  }
  return infos;
}

function checkDisk(context: BrokerContext, dataDir: string): void {
  try {
    const stats = statfsSync(dataDir);
    const freeBytes = stats.bavail * stats.bsize;
    const below = freeBytes < context.limits.diskFreeBytesMin;
    if (below !== context.disk.belowWatermark) {
      context.logger.warn({ freeBytes, diskFreeBytesMin: context.limits.diskFreeBytesMin, below }, "disk watermark");
    }
    context.disk.freeBytes = freeBytes;
    context.disk.totalBytes = stats.blocks * stats.bsize;
    context.disk.belowWatermark = below;
    if (!below) context.disk.fullReason = undefined;
  } catch (error) {
    context.logger.error({ err: error, dataDir }, "disk space check failed");
  }
}

function startTimers(context: BrokerContext, groups: GroupCoordinator, config: BrokerConfig) {
  const { logger } = context;
  const retention = setInterval(() => {
    try {
      const deleted = context.log.applyRetention(Date.now());
      if (deleted > 0) logger.info({ deletedSegments: deleted }, "retention");
    } catch (error) {
      logger.error({ err: error }, "retention failed");
    }
  }, config.BROKER_RETENTION_CHECK_MS);
  const eviction = setInterval(() => {
    for (const member of groups.tick()) logger.info(member, "group member evicted (session timeout)");
  }, config.BROKER_GROUP_EVICTION_CHECK_MS);
  const disk = setInterval(() => checkDisk(context, config.BROKER_DATA_DIR), diskCheckMs);
  return [retention, eviction, disk];
}

function serverHandle(
  server: Server<undefined>,
  context: BrokerContext,
  groups: GroupCoordinator,
  background: {
    timers: ReturnType<typeof setInterval>[];
    stopTokens: () => void;
    guardedRoutes: readonly GuardedRoute[];
  },
): BrokerServer {
  let stopped: Promise<void> | undefined;
  const handle: BrokerServer = {
    url: `http://${server.hostname === "0.0.0.0" ? "127.0.0.1" : server.hostname}:${server.port}`,
    port: server.port ?? 0,
    context,
    guardedRoutes: background.guardedRoutes,
    stopIntake() {
      context.lifecycle.stopping = true;
      context.lifecycle.abort.abort();
      for (const timer of background.timers) clearInterval(timer);
      background.stopTokens();
    },
    async drainRequests() {
      await server.stop(false);
    },
    async closeStorage() {
      await groups.close();
      await context.log.close();
    },
    stop() {
      stopped ??= (async () => {
        handle.stopIntake();
        await handle.drainRequests();
        await handle.closeStorage();
      })();
      return stopped;
    },
  };
  return handle;
}
