import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ClickHouseError, ClickHouseLogLevel, createClient } from "@clickhouse/client";
import { type EmbeddedClickHouse, startEmbeddedClickHouse } from "../../support/embedded-clickhouse.ts";
import { waitForMetricValue } from "../../support/prometheus.ts";

const password = "s3cret'pass";
let clickhouse: EmbeddedClickHouse;

beforeAll(async () => {
  clickhouse = await startEmbeddedClickHouse({
    env: { CLICKHOUSE_EMBEDDED_QUEUE_LENGTH_MAX: "1", CLICKHOUSE_EMBEDDED_PASSWORD: password },
  });
});

afterAll(async () => {
  await clickhouse?.stop();
});

const authorization = `Basic ${Buffer.from(`default:${password}`).toString("base64")}`;

function post(sql: string): Promise<Response> {
  return fetch(`${clickhouse.url}/`, { method: "POST", body: sql, headers: { authorization } });
}

describe("embedded ClickHouse limits", () => {
  test("a full queue refuses with TOO_MANY_SIMULTANEOUS_QUERIES and 503", async () => {
    const running = post("SELECT sum(sleepEachRow(0.2)) FROM numbers(3) FORMAT Null");
    await waitForMetricValue(clickhouse.url, "clickhouse_embedded_running_queries", 1);
    const queued = post("SELECT 'queued'");
    await waitForMetricValue(clickhouse.url, "clickhouse_embedded_queued_queries", 1);
    const refused = await post("SELECT 'refused'");
    expect(refused.status).toBe(503);
    expect(refused.headers.get("x-clickhouse-exception-code")).toBe("202");
    expect(await refused.text()).toContain("(TOO_MANY_SIMULTANEOUS_QUERIES)");
    expect((await running).status).toBe(200);
    expect(await (await queued).text()).toBe("queued\n");
  });

  test("a wrong password is AUTHENTICATION_FAILED (516, 403) and the right one works", async () => {
    const wrong = createClient({ url: clickhouse.url, password: "nope", log: { level: ClickHouseLogLevel.OFF } });
    const right = createClient({ url: clickhouse.url, password });
    try {
      const error = await wrong.query({ query: "SELECT 1", format: "JSONEachRow" }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ClickHouseError);
      expect((error as ClickHouseError).code).toBe("516");
      const response = await fetch(`${clickhouse.url}/?query=SELECT+1`);
      expect(response.status).toBe(403);
      const result = await right.query({ query: "SELECT 1 AS one", format: "JSONEachRow" });
      expect(await result.json()).toEqual([{ one: 1 }]);
    } finally {
      await wrong.close();
      await right.close();
    }
  });

  test("/ping and the operations paths need no credentials", async () => {
    expect(await (await fetch(`${clickhouse.url}/ping`)).text()).toBe("Ok.\n");
    expect((await fetch(`${clickhouse.url}/health`)).status).toBe(200);
    expect(await (await fetch(`${clickhouse.url}/ready`)).json()).toEqual({ ready: true, checks: { chdb: true } });
  });
});
