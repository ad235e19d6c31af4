import { type ClickHouseClient, ClickHouseLogLevel, createClient } from "@clickhouse/client";
import type { Logger } from "../observability/logger.ts";
import { clickHouseLoggerClass } from "./client-logger.ts";

export interface ClickHouseClientOptions {
  url: string;
  username: string;
  password: string;
  database: string;
  requestTimeoutMs: number;
  /** Extra settings sent with every request. */
  settings?: Record<string, string | number>;
  /** The process's logger: the client's own warnings become JSON lines there. Without one it logs nothing. */
  logger?: Logger;
}

/**
 * The one way a process talks to ClickHouse. The same code points at the embedded
 * dev endpoint or a production server; only the URL and credentials change.
 */
export function createClickHouse(options: ClickHouseClientOptions): ClickHouseClient {
  return createClient({
    url: options.url,
    username: options.username,
    password: options.password,
    database: options.database,
    request_timeout: options.requestTimeoutMs,
    // Idle sockets must be dropped before the server's 3 s keep_alive_timeout,
    // or a reused socket fails with "socket hang up".
    keep_alive: { enabled: true, idle_socket_ttl: 2_000 },
    clickhouse_settings: options.settings ?? {},
    // Never the client's default console logger: it writes multi-line plain text.
    log:
      options.logger === undefined
        ? { level: ClickHouseLogLevel.OFF }
        : { LoggerClass: clickHouseLoggerClass(options.logger), level: ClickHouseLogLevel.WARN },
  });
}
