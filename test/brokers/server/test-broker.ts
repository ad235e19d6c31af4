import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { type BrokerServer, startBroker } from "../../../brokers/server/broker-server.ts";
import { BrokerConfig } from "../../../brokers/server/config.ts";
import { loadConfig } from "../../../src/config/env.ts";
import { createLogger } from "../../../src/observability/logger.ts";
import { testBrokerToken, testBrokerTokenEnv } from "../../support/test-tokens.ts";

export interface TestBroker {
  broker: BrokerServer;
  url: string;
  /** Valid for every scope (unless `env` replaced the token settings). */
  token: string;
  dataDir: string;
  /** Stops the broker; the data dir stays (for restart tests) until `cleanup`. */
  stop(): Promise<void>;
  cleanup(): Promise<void>;
}

/** A real broker in this process on a free port, with its data in a fresh temp dir. */
export async function startTestBroker(env: Record<string, string> = {}, dataDir?: string): Promise<TestBroker> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), "broker-test-"));
  const config = loadConfig(BrokerConfig, {
    BROKER_PORT: "0",
    BROKER_HOST: "127.0.0.1",
    BROKER_DATA_DIR: dir,
    BROKER_FLUSH: "os",
    BROKER_DISK_FREE_BYTES_MIN: "0",
    LOG_LEVEL: "warn",
    ...testBrokerTokenEnv,
    ...env,
  });
  const silent = new Writable({ write: (_chunk, _encoding, done) => done() });
  const logger = createLogger({
    service: "broker-test",
    instanceId: "test",
    level: config.LOG_LEVEL,
    destination: silent,
  });
  const broker = await startBroker({ config, logger, instanceId: "test" });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await broker.stop();
  };
  return {
    broker,
    url: broker.url,
    token: testBrokerToken,
    dataDir: dir,
    stop,
    async cleanup() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
