import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { readTokenCookie } from "../../services/api/dashboard/read-token-cookie.ts";
import { devTokenFiles } from "../../services/dev/dev-secrets.ts";
import { digestEntry, newToken } from "../../src/auth/token-syntax.ts";
import { brokerRoutes } from "../../src/broker-protocol/routes.ts";
import { freePort, freePortRange } from "../support/free-port.ts";
import { pumpLines, waitUntil } from "../support/service-process.ts";

/**
 * Every process of the pipeline at LOG_LEVEL=debug with its tokens and passwords set,
 * started the way `bun run dev` starts them, then driven through every door: accepted
 * and refused tokens on the broker, the API, the streamer's upload and the control
 * endpoint, the CLI with the dev token, ClickHouse with its password, a token rotated
 * in a watched file. Afterwards no log line of any process (nor the stack's own
 * output) holds a token, a password or the cursor key.
 */

const root = resolve(import.meta.dir, "../..");
const dataDir = mkdtempSync(join(tmpdir(), "secrets-in-logs-"));
const ports = {
  DEV_CLICKHOUSE_PORT: await freePort(),
  DEV_BROKER_PORT: await freePort(),
  DEV_API_PORT: await freePort(),
  DEV_CONTROL_PORT: await freePort(),
  DEV_STREAMER_PORT_BASE: await freePortRange(10),
  DEV_COLLECTOR_PORT_BASE: await freePortRange(10),
};
const output: string[] = [];
let stack: Subprocess<"ignore", "pipe", "pipe"> | undefined;
/** Tokens sent that no service accepts: they must not be logged either. */
const refusedTokens = [newToken(), newToken(), newToken()];
/** A token added to the broker's list while it runs (a rotation). */
const rotatedToken = newToken();

const secretsDir = join(dataDir, "secrets");
const secret = (file: string) => readFileSync(join(secretsDir, file), "utf8").trim();
const url = {
  api: `http://127.0.0.1:${ports.DEV_API_PORT}`,
  broker: `http://127.0.0.1:${ports.DEV_BROKER_PORT}`,
  streamer: `http://127.0.0.1:${ports.DEV_STREAMER_PORT_BASE}`,
  control: `http://127.0.0.1:${ports.DEV_CONTROL_PORT}`,
  clickhouse: `http://127.0.0.1:${ports.DEV_CLICKHOUSE_PORT}`,
};
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

beforeAll(async () => {
  stack = Bun.spawn(["bun", join(root, "services/dev/main.ts")], {
    cwd: root,
    env: {
      ...process.env,
      ...Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, String(port)])),
      DEV_DATA_DIR: dataDir,
      DEV_STREAMERS: "1",
      DEV_COLLECTORS: "1",
      DEV_STREAMER_RATE_ROWS_PER_S: "500",
      LOG_LEVEL: "debug",
      LOG_FORMAT: "json",
    },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  void pumpLines(stack.stdout, (line) => output.push(line));
  void pumpLines(stack.stderr, (line) => output.push(line));
  await waitUntil(
    () => output.some((line) => line.includes("GPU telemetry pipeline is running")),
    () => output.slice(-30).join("\n"),
    90_000,
  );
}, 120_000);

afterAll(async () => {
  if (stack !== undefined && stack.exitCode === null) stack.kill("SIGKILL");
  rmSync(dataDir, { recursive: true, force: true });
});

async function status(target: string, init: RequestInit = {}): Promise<number> {
  const response = await fetch(target, { ...init, signal: AbortSignal.timeout(15_000) });
  await response.arrayBuffer();
  return response.status;
}

describe("secrets never reach a log line", () => {
  test("every door is used with good and bad tokens, then no log holds a secret", async () => {
    const admin = secret(devTokenFiles.brokerAdmin);
    const streamerToken = secret(devTokenFiles.brokerStreamer);
    const password = secret("clickhouse-password");
    // The data flowing proves the services' own tokens work (streamer → broker → collector → ClickHouse → API).
    await waitUntil(
      async () =>
        ((await (await fetch(`${url.api}/api/v1/gpus?limit=1`)).json()) as { items: unknown[] }).items.length > 0,
      () => "no GPU reached the API",
      60_000,
    );
    expect(await status(`${url.api}/api/v1/gpus`, { headers: bearer(secret(devTokenFiles.apiRead)) })).toBe(200);
    expect(await status(`${url.api}/api/v1/hosts`, { headers: bearer(refusedTokens[0]!) })).toBe(200);
    // The dashboard's way for event streams: the token in its cookie.
    const cookie = `${readTokenCookie}=${encodeURIComponent(secret(devTokenFiles.apiRead))}`;
    expect(await status(`${url.api}/api/v1/pipeline`, { headers: { cookie } })).toBe(200);

    expect(await status(`${url.broker}/v1/topics`, { headers: bearer(admin) })).toBe(200);
    expect(await status(`${url.broker}/v1/topics`, { headers: bearer(refusedTokens[1]!) })).toBe(401);
    expect(await status(`${url.broker}/v1/topics`)).toBe(401);
    expect(await status(`${url.broker}/v1/groups/collectors`, { headers: bearer(streamerToken) })).toBe(403);
    expect(await status(`${url.broker}/v1/topics`, { method: "POST", headers: bearer(streamerToken) })).toBe(403);

    const upload = `${url.streamer}/api/v1/upload`;
    const csv = readFileSync(join(root, "data/dcgm_metrics_20250718_134233.csv"), "utf8")
      .split("\n")
      .slice(0, 20)
      .join("\n");
    const uploadHeaders = { "content-type": "text/csv" };
    expect(
      await status(upload, {
        method: "POST",
        body: csv,
        headers: { ...uploadHeaders, ...bearer(secret(devTokenFiles.streamerUpload)) },
      }),
    ).toBe(200);
    expect(
      await status(upload, { method: "POST", body: csv, headers: { ...uploadHeaders, ...bearer(refusedTokens[2]!) } }),
    ).toBe(401);

    expect(await status(`${url.control}/status`, { headers: bearer(secret(devTokenFiles.devControl)) })).toBe(200);
    expect(await status(`${url.control}/status`, { headers: bearer(refusedTokens[0]!) })).toBe(401);

    const basic = `Basic ${Buffer.from(`default:${password}`).toString("base64")}`;
    expect(await status(`${url.clickhouse}/?query=SELECT%201`, { headers: { authorization: basic } })).toBe(200);
    expect(
      await status(`${url.clickhouse}/?query=SELECT%201`, {
        headers: { "x-clickhouse-user": "default", "x-clickhouse-key": "wrong-password-123" },
      }),
    ).not.toBe(200);

    // The CLI finds the dev admin token by itself.
    const cli = Bun.spawnSync(
      ["bun", join(root, "services/broker-cli/main.ts"), "--broker", url.broker, "groups", "list"],
      {
        cwd: root,
        env: { ...process.env, DEV_DATA_DIR: dataDir, BROKER_TOKEN: "", BROKER_TOKEN_FILE: "", BROKER_URL: "" },
      },
    );
    expect(cli.exitCode).toBe(0);
    expect(cli.stdout.toString()).toContain("collectors");

    // A token added to the broker's watched list works without a restart (and is not logged when it is read).
    appendFileSync(join(secretsDir, "broker-tokens", "admin"), `${digestEntry(rotatedToken)}\n`);
    await waitUntil(
      async () =>
        (await status(`${url.broker}${brokerRoutes.listGroups.path}`, { headers: bearer(rotatedToken) })) === 200,
      () => "the rotated token was not picked up",
      20_000,
    );

    stack?.kill("SIGINT");
    expect(await stack?.exited).toBe(0);

    const logFiles = readdirSync(join(dataDir, "logs"));
    expect(logFiles.sort()).toEqual(["api.log", "broker.log", "clickhouse.log", "collector-1.log", "streamer-1.log"]);
    const lines = [
      ...output.map((line) => ({ file: "dev stack", line })),
      ...logFiles.flatMap((file) =>
        readFileSync(join(dataDir, "logs", file), "utf8")
          .split("\n")
          .map((line) => ({ file, line })),
      ),
    ];
    // Debug was on everywhere: each process logged its settings (secrets by name only).
    for (const file of logFiles) {
      const settings = lines.find((item) => item.file === file && item.line.includes('"msg":"configuration"'));
      expect({ file, debug: settings !== undefined }).toEqual({ file, debug: true });
    }
    expect(lines.some((item) => item.line.includes('"BROKER_TOKEN_FILE"'))).toBe(true);
    expect(lines.some((item) => /"secretsSet":\[[^\]]*"CLICKHOUSE_PASSWORD"/.test(item.line))).toBe(true);

    const secrets: Record<string, string> = {
      "clickhouse password": password,
      "api cursor key": secret("api-cursor-key"),
      ...Object.fromEntries(Object.entries(devTokenFiles).map(([role, file]) => [role, secret(file)])),
      ...Object.fromEntries(refusedTokens.map((token, index) => [`refused token ${index}`, token])),
      "rotated token": rotatedToken,
      "clickhouse basic auth": basic.slice("Basic ".length),
      "wrong clickhouse password": "wrong-password-123",
    };
    const leaks = Object.entries(secrets).flatMap(([name, value]) =>
      lines
        .filter((item) => item.line.includes(value))
        .map((item) => `${name} in ${item.file}: ${item.line.slice(0, 200)}`),
    );
    expect(leaks).toEqual([]);
    expect(lines.length).toBeGreaterThan(200);
  }, 240_000);
});
