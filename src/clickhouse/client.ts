import { type ClickHouseClient, createClient } from "@clickhouse/client";

export interface ClickHouseClientOptions {
  url: string;
  username: string;
  password: string;
  database: string;
  requestTimeoutMs: number;
  /** Extra settings sent with every request. */
  settings?: Record<string, string | number>;
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
  });
}
