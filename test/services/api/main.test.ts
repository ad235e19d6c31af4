import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { parserHeaderBytesFlag } from "../../../src/http/request-limits.ts";
import { type EmbeddedClickHouse, startEmbeddedClickHouse } from "../../support/embedded-clickhouse.ts";
import { spawnService } from "../../support/service-process.ts";
import { bearer, testReadToken } from "../../support/test-tokens.ts";

const mainPath = join(import.meta.dir, "..", "..", "..", "services", "api", "main.ts");
const startTimeoutMs = 20_000;

let clickhouse: EmbeddedClickHouse;
let api: Subprocess<"ignore", "pipe", "pipe">;
const lines: Record<string, unknown>[] = [];
let port = 0;

async function readLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of stream) {
    pending += decoder.decode(chunk, { stream: true });
    const parts = pending.split("\n");
    pending = parts.pop() ?? "";
    for (const part of parts) onLine(part);
  }
}

beforeAll(async () => {
  clickhouse = await startEmbeddedClickHouse();
  api = Bun.spawn(["bun", parserHeaderBytesFlag, mainPath], {
    env: {
      ...process.env,
      ...clickhouse.serviceEnv(),
      CLICKHOUSE_DATABASE: "api_main",
      API_HOST: "127.0.0.1",
      API_PORT: "0",
      LOG_FORMAT: "json",
      LOG_LEVEL: "info",
      API_READ_TOKENS: testReadToken,
      BROKER_URL: "",
    },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const listening = Promise.withResolvers<number>();
  const onLine = (text: string) => {
    try {
      const line = JSON.parse(text) as Record<string, unknown>;
      lines.push(line);
      if (line.msg === "listening" && typeof line.port === "number") listening.resolve(line.port);
    } catch {
      // Not JSON (e.g. @clickhouse/client's own console output): ignore.
    }
  };
  void readLines(api.stdout, onLine);
  void readLines(api.stderr, onLine);
  const timer = setTimeout(
    () => listening.reject(new Error(`api did not log listening: ${JSON.stringify(lines)}`)),
    startTimeoutMs,
  );
  port = await listening.promise;
  clearTimeout(timer);
});
afterAll(async () => {
  if (api !== undefined && api.exitCode === null) api.kill("SIGKILL");
  await clickhouse?.stop();
});

describe("services/api/main.ts", () => {
  test("logs listening with its port, migrates and serves on a real socket", async () => {
    expect(port).toBeGreaterThan(0);
    expect(lines.find((line) => line.msg === "listening")).toMatchObject({ service: "api", host: "127.0.0.1" });
    const ready = await fetch(`http://127.0.0.1:${port}/ready`);
    expect(ready.status).toBe(200);
    const gpus = await fetch(`http://127.0.0.1:${port}/api/v1/gpus`, { headers: bearer(testReadToken) });
    expect(gpus.status).toBe(200);
    expect(await gpus.json()).toEqual({ items: [], next_cursor: null });
    const docs = await fetch(`http://127.0.0.1:${port}/swagger/json`);
    expect(((await docs.json()) as { info: { title: string } }).info.title).toBe("GPU Telemetry API");
  });

  test("a 100 KB GPU id gets our JSON 414, a 100 KB header our JSON 431 (not Bun's empty 431)", async () => {
    const longId = await fetch(`http://127.0.0.1:${port}/api/v1/gpus/${"G".repeat(100_000)}/telemetry`);
    expect(longId.status).toBe(414);
    expect(await longId.json()).toMatchObject({ error: "uri_too_long" });
    const bigHeader = await fetch(`http://127.0.0.1:${port}/api/v1/gpus`, {
      headers: { "x-junk": "j".repeat(100_000) },
    });
    expect(bigHeader.status).toBe(431);
    expect(await bigHeader.json()).toMatchObject({ error: "headers_too_large" });
    const longGpu = await fetch(`http://127.0.0.1:${port}/api/v1/gpus/${"G".repeat(2_000)}`, {
      headers: bearer(testReadToken),
    });
    expect(longGpu.status).toBe(400);
  });

  test("read is closed: without a token a data route is a JSON 401 with WWW-Authenticate; the start-up says nothing is open", async () => {
    const refused = await fetch(`http://127.0.0.1:${port}/api/v1/gpus`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toBe('Bearer realm="api"');
    expect(await refused.json()).toMatchObject({ error: "missing_token", details: [] });
    expect(lines.some((line) => String(line.msg).includes("API_READ_OPEN=true"))).toBe(false);
    expect(lines.find((line) => line.msg === "bearer tokens")).toMatchObject({
      tokenCounts: { read: 1 },
      readOpen: false,
    });
  });

  test("SIGTERM ends open event streams with an end event and stops gracefully with exit code 0", async () => {
    const stream = await fetch(`http://127.0.0.1:${port}/api/v1/fleet/stream`, { headers: bearer(testReadToken) });
    const reader = stream.body?.getReader();
    if (reader === undefined) throw new Error("no stream body");
    let text = "";
    while (!text.includes("event: snapshot")) text += new TextDecoder().decode((await reader.read()).value);
    const stoppingMs = performance.now();
    api.kill("SIGTERM");
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      text += new TextDecoder().decode(chunk.value);
    }
    expect(text.trimEnd().endsWith('event: end\ndata: {"reason":"shutdown"}')).toBe(true);
    expect(await api.exited).toBe(0);
    // The stream did not hold the shutdown until its timeout (API_SHUTDOWN_TIMEOUT_MS, 15 s).
    expect(performance.now() - stoppingMs).toBeLessThan(5_000);
    const messages = lines.map((line) => line.msg);
    expect(messages).toContain("shutting down");
    expect(messages).toContain("shutdown complete");
    expect(lines.filter((line) => line.level === 50)).toEqual([]);
  });
});

describe("services/api/main.ts access settings", () => {
  test("API_READ_OPEN=true serves reads without a token and says so at start-up, at warn", async () => {
    const open = await spawnService({
      name: "api",
      entry: mainPath,
      env: {
        ...clickhouse.serviceEnv(),
        CLICKHOUSE_DATABASE: "api_main",
        API_PORT: "0",
        API_READ_OPEN: "true",
        BROKER_URL: "",
      },
    });
    try {
      expect((await fetch(`${open.url}/api/v1/gpus`)).status).toBe(200);
      const warning = open.entries().find((line) => String(line.msg).startsWith("API_READ_OPEN=true"));
      expect(warning).toMatchObject({ level: 40, host: "127.0.0.1" });
    } finally {
      await open.stop();
    }
  });

  test("read closed without any token is a configuration error naming the settings (exit 2)", async () => {
    const child = Bun.spawn(["bun", parserHeaderBytesFlag, mainPath], {
      env: {
        ...process.env,
        ...clickhouse.serviceEnv(),
        API_PORT: "0",
        API_READ_TOKENS: "",
        API_READ_OPEN: "false",
        BROKER_URL: "",
      },
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(await child.exited).toBe(2);
    expect(await new Response(child.stderr).text()).toContain("config error: API_READ_OPEN=false but no read token");
  });
});
