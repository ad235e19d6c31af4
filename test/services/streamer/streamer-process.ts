/**
 * Runs services/streamer/main.ts as a real child process against a broker, on an
 * OS-picked HTTP port (read from its `listening` line), keeping its log lines.
 */
import { join } from "node:path";
import { type ServiceProcess, spawnService, waitUntil } from "../../support/service-process.ts";
import { testBrokerToken, testUploadToken } from "../../support/test-tokens.ts";

export { waitUntil };

/** A running streamer: the shared child-process handle. */
export type StreamerProcess = ServiceProcess;

const mainPath = join(import.meta.dir, "..", "..", "..", "services", "streamer", "main.ts");

export async function startStreamer(options: {
  brokerUrl: string;
  env?: Record<string, string>;
}): Promise<StreamerProcess> {
  return await spawnService({
    name: "streamer",
    entry: mainPath,
    env: {
      BROKER_URL: options.brokerUrl,
      BROKER_TOKEN: testBrokerToken,
      STREAMER_UPLOAD_TOKENS: testUploadToken,
      STREAMER_PORT: "0",
      STREAMER_HOST: "127.0.0.1",
      ...options.env,
    },
    logLinesMax: 5_000,
  });
}
