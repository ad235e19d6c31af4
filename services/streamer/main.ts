/**
 * The streamer process: replays the DCGM CSV (or scrapes dcgm-exporter) into topic
 * `telemetry`, each record stamped with its processing time and keyed by GPU UUID.
 * Streamers split the GPUs through group `streamers`. SIGTERM stops reading,
 * flushes what was read, leaves the group (so the others take over at once) and
 * exits 0.
 */
import { logConfig } from "../../src/config/config-log.ts";
import { exitOnConfigError, loadConfigOrExit } from "../../src/config/env.ts";
import { exitOnUncaught } from "../../src/observability/fatal.ts";
import { createLogger, defaultInstanceId } from "../../src/observability/logger.ts";
import { installShutdown } from "../../src/runtime/shutdown.ts";
import { StreamerConfig } from "./config.ts";
import { type RunningStreamer, startStreamer } from "./streamer.ts";

const config = loadConfigOrExit(StreamerConfig);
const instanceId = config.INSTANCE_ID === "" ? defaultInstanceId() : config.INSTANCE_ID;
const logger = createLogger({ service: "streamer", instanceId, level: config.LOG_LEVEL });
exitOnUncaught(logger);
logConfig(logger, StreamerConfig, config);

const stopping = new AbortController();
let streamer: RunningStreamer | undefined;
let onceFailed = false;

const shutdown = installShutdown({
  logger,
  timeoutMs: config.STREAMER_SHUTDOWN_TIMEOUT_MS,
  exit: (code) => process.exit(code === 0 && onceFailed ? 1 : code),
  // Records the broker never acknowledged are lost with this process: say how many.
  unfinished: () => {
    const dropped = streamer?.unacknowledged() ?? 0;
    streamer?.metrics.rowsDropped.inc({ reason: "shutdown" }, dropped);
    return { droppedUnacknowledged: dropped };
  },
  steps: [
    {
      name: "stop reading",
      run: async () => {
        stopping.abort();
        await streamer?.stopReading();
      },
    },
    { name: "flush what was read", run: () => streamer?.flush() },
    { name: "leave the group", run: () => streamer?.leaveGroup() },
    { name: "stop http", run: () => streamer?.stopHttp() },
  ],
});

const onFenced = (error: unknown) => {
  logger.error({ err: error, instanceId }, "another process joined with this INSTANCE_ID: stopping");
  void shutdown.run("fenced by another process with the same INSTANCE_ID", 1);
};
streamer = await startStreamer({ config, logger, instanceId, signal: stopping.signal, onFenced }).catch(
  exitOnConfigError,
);
if (streamer !== undefined) {
  const complete = await streamer.sourceDone;
  if (config.STREAMER_MODE === "once" && !stopping.signal.aborted) {
    onceFailed = !complete;
    void shutdown.run(complete ? "once: pass complete" : "once: pass failed");
  }
}
