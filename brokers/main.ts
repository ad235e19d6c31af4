import { logConfig } from "../src/config/config-log.ts";
import { exitOnConfigError, loadConfigOrExit } from "../src/config/env.ts";
import { exitOnUncaught } from "../src/observability/fatal.ts";
import { createLogger, defaultInstanceId } from "../src/observability/logger.ts";
import { installShutdown } from "../src/runtime/shutdown.ts";
import { startBroker } from "./server/broker-server.ts";
import { BrokerConfig } from "./server/config.ts";

/**
 * The broker process. Start-up recovers the log (truncating a torn tail) before it
 * listens; SIGTERM stops intake, lets in-flight appends finish, then flushes and
 * checkpoints so the next start has nothing to recover.
 */
const config = loadConfigOrExit(BrokerConfig);
const instanceId = config.INSTANCE_ID === "" ? defaultInstanceId() : config.INSTANCE_ID;
const logger = createLogger({ service: "broker", instanceId, level: config.LOG_LEVEL });
exitOnUncaught(logger);
logConfig(logger, BrokerConfig, config);

const broker = await startBroker({ config, logger, instanceId }).catch(exitOnConfigError);
logger.info(
  { port: broker.port, url: broker.url, dataDir: config.BROKER_DATA_DIR, flush: config.BROKER_FLUSH },
  "listening",
);

installShutdown({
  logger,
  timeoutMs: config.BROKER_SHUTDOWN_TIMEOUT_MS,
  steps: [
    { name: "stop intake", run: () => broker.stopIntake() },
    { name: "finish in-flight requests", run: () => broker.drainRequests() },
    { name: "flush and close storage", run: () => broker.closeStorage() },
  ],
});
