/**
 * The broker process exactly as brokers/main.ts starts it, but with the record check of
 * produced batches turned off: the broker benchmark runs it next to the real one to
 * measure what the check costs. Benchmark only; production cannot turn the check off.
 */
import { startBroker } from "../../../brokers/server/broker-server.ts";
import { BrokerConfig } from "../../../brokers/server/config.ts";
import { loadConfigOrExit } from "../../../src/config/env.ts";
import { createLogger, defaultInstanceId } from "../../../src/observability/logger.ts";
import { installShutdown } from "../../../src/runtime/shutdown.ts";

const config = loadConfigOrExit(BrokerConfig);
const instanceId = config.INSTANCE_ID === "" ? defaultInstanceId() : config.INSTANCE_ID;
const logger = createLogger({ service: "broker", instanceId, level: config.LOG_LEVEL });
const broker = await startBroker({ config, logger, instanceId, checkRecords: false });
logger.info({ port: broker.port, url: broker.url, checkRecords: false }, "listening");
installShutdown({
  logger,
  timeoutMs: config.BROKER_SHUTDOWN_TIMEOUT_MS,
  steps: [{ name: "stop", run: () => broker.stop() }],
});
