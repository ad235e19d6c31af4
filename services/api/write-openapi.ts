/**
 * `bun run openapi`: writes openapi.json at the repository root from the same app
 * the server runs (no server, no ClickHouse needed: the document is built from the
 * route schemas). Commit the result; a test fails when it is stale.
 */
import { join } from "node:path";
import { TokenStore } from "../../src/auth/token-store.ts";
import { createClickHouse } from "../../src/clickhouse/client.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { createMetricsRegistry } from "../../src/observability/metrics.ts";
import { apiScopes } from "./api-access.ts";
import { createApiApp } from "./app.ts";
import { renderOpenApi } from "./openapi-document.ts";

export const openApiFilePath = join(import.meta.dir, "..", "..", "openapi.json");

/** The document from an app whose ClickHouse is never contacted. */
export async function buildOpenApiText(): Promise<string> {
  const clickhouse = createClickHouse({
    url: "http://127.0.0.1:9",
    username: "default",
    password: "",
    database: "telemetry",
    requestTimeoutMs: 1_000,
  });
  try {
    const app = createApiApp({
      clickhouse,
      logger: createLogger({ service: "api", instanceId: "openapi", level: "silent" }),
      registry: createMetricsRegistry({ service: "api", instanceId: "openapi" }),
      access: { tokens: new TokenStore(apiScopes), readOpen: false },
    });
    return await renderOpenApi(app);
  } finally {
    await clickhouse.close();
  }
}

if (import.meta.main) {
  const text = await buildOpenApiText();
  await Bun.write(openApiFilePath, text);
  process.stdout.write(`wrote ${openApiFilePath} (${text.length} bytes)\n`);
}
