import { openServiceTokens, type ServiceTokens } from "../../src/auth/service-tokens.ts";
import { brokerScopes } from "../../src/broker-protocol/routes.ts";
import { ConfigError } from "../../src/config/env.ts";
import type { Logger } from "../../src/observability/logger.ts";
import type { BrokerConfig } from "./config.ts";

/**
 * The tokens the broker accepts, from its settings, or undefined under BROKER_AUTH=none.
 * A broker that requires tokens but has none would refuse every client: that is a
 * configuration error at start-up, not a broker that silently serves nobody.
 */
export function openBrokerTokens(config: BrokerConfig, logger: Logger): ServiceTokens | undefined {
  if (config.BROKER_AUTH === "none") {
    logger.warn(
      { host: config.BROKER_HOST },
      "BROKER_AUTH=none: every route is open to anyone who can reach this port (no token is checked)",
    );
    return undefined;
  }
  const tokens = openServiceTokens({
    scopes: brokerScopes,
    limitableScopes: ["consume"],
    variables: {
      produce: { name: "BROKER_TOKENS_PRODUCE", text: config.BROKER_TOKENS_PRODUCE },
      consume: { name: "BROKER_TOKENS_CONSUME", text: config.BROKER_TOKENS_CONSUME },
      admin: { name: "BROKER_TOKENS_ADMIN", text: config.BROKER_TOKENS_ADMIN },
    },
    directory: config.BROKER_TOKENS_DIR,
    reloadMs: config.BROKER_TOKENS_RELOAD_MS,
    logger,
  });
  if (tokens.store.size === 0) {
    tokens.stop();
    throw new ConfigError(
      "BROKER_AUTH=tokens but no token is configured: set BROKER_TOKENS_PRODUCE, BROKER_TOKENS_CONSUME, BROKER_TOKENS_ADMIN or BROKER_TOKENS_DIR (or BROKER_AUTH=none)",
    );
  }
  logger.info(
    { tokenCounts: tokens.store.counts(), directory: config.BROKER_TOKENS_DIR || undefined },
    "bearer tokens",
  );
  return tokens;
}
