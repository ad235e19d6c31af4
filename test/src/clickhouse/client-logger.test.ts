import { afterAll, beforeAll, expect, test } from "bun:test";
import { Writable } from "node:stream";
import { createClickHouse } from "../../../src/clickhouse/client.ts";
import { createLogger } from "../../../src/observability/logger.ts";
import { type ClickHouseFixture, startClickHouseFixture } from "./fixture.ts";

let fixture: ClickHouseFixture;

beforeAll(async () => {
  fixture = await startClickHouseFixture();
});
afterAll(async () => {
  await fixture?.stop();
});

test("the ClickHouse client's own complaints are JSON lines of the process's logger, never console text", async () => {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(
        ...String(chunk)
          .split("\n")
          .filter((line) => line !== ""),
      );
      done();
    },
  });
  const logger = createLogger({ service: "test", instanceId: "test", level: "info", destination });
  const consoleLines: unknown[] = [];
  const saved = { error: console.error, warn: console.warn, info: console.info, debug: console.debug };
  for (const method of ["error", "warn", "info", "debug"] as const)
    console[method] = (...args) => consoleLines.push(args);
  const client = createClickHouse({
    url: fixture.clickhouse.url,
    username: "default",
    password: fixture.clickhouse.password,
    database: "default",
    requestTimeoutMs: 5_000,
    logger,
  });
  try {
    await expect(client.query({ query: "SELECT * FROM no_such_table", format: "JSONEachRow" })).rejects.toThrow();
    await expect(client.command({ query: "DROP TABLE no_such_table" })).rejects.toThrow();
  } finally {
    Object.assign(console, saved);
    await client.close();
  }
  expect(consoleLines).toEqual([]);
  const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  expect(entries.length).toBeGreaterThan(0);
  for (const entry of entries) {
    expect(entry).toMatchObject({ service: "test", component: "clickhouse-client" });
    expect(typeof entry.msg).toBe("string");
  }
});
