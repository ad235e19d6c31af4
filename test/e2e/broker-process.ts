import type { Subprocess } from "bun";
import { spawnService } from "../support/service-process.ts";
import { testBrokerTokenEnv } from "../support/test-tokens.ts";

export interface BrokerProcess {
  proc: Subprocess;
  url: string;
  port: number;
}

const brokerMain = new URL("../../brokers/main.ts", import.meta.url).pathname;

/** Spawns `bun brokers/main.ts` (or another broker entry) on a free port and resolves once it logs `listening`. */
export async function spawnBroker(env: Record<string, string>, entry = brokerMain): Promise<BrokerProcess> {
  const broker = await spawnService({
    name: "broker",
    entry,
    env: { BROKER_PORT: "0", BROKER_HOST: "127.0.0.1", ...testBrokerTokenEnv, ...env },
    startTimeoutMs: 15_000,
  });
  return { proc: broker.child, port: broker.port, url: broker.url };
}
