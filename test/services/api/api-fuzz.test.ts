/**
 * A bounded fuzz of the API with a fixed seed: valid requests (with real cursors from
 * real pages) mutated in their paths, query strings, cursors, methods and headers,
 * against the real app and a real embedded ClickHouse holding data. Every answer must
 * be below 500 and every error a JSON body naming what is wrong.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { oversizedRequest } from "../../../src/http/request-limits.ts";
import { SeededRandom } from "../../support/seeded-random.ts";
import { testReadToken } from "../../support/test-tokens.ts";
import { type ApiFixture, baseMs, gpuA, gpuB, iso, power, startApiFixture, utilization } from "./api-fixture.ts";

const seed = 0x0a91_1302;
const requestCount = 10_000;
const concurrency = 8;
const random = new SeededRandom(seed);

let fixture: ApiFixture;
let cursors: string[] = [];
beforeAll(async () => {
  fixture = await startApiFixture();
  const telemetry = await fixture.get(`/api/v1/gpus/${gpuA.uuid}/telemetry?start_time=${iso(baseMs)}&limit=3`);
  const gpus = await fixture.get("/api/v1/gpus?limit=1");
  cursors = [telemetry.body.next_cursor, gpus.body.next_cursor].filter((cursor) => typeof cursor === "string");
  expect(cursors).toHaveLength(2);
}, 60_000);
afterAll(async () => {
  await fixture?.stop();
});

const nasty = [
  "",
  "\u0000",
  "%00",
  "%zz",
  "%",
  "'; DROP TABLE datapoints; --",
  "{name:String}",
  "ünïcødé✓",
  "\uD800",
  "1e300",
  "-1",
  "0",
  "NaN",
  "Infinity",
  "9".repeat(400),
  "x".repeat(3_000),
  "0099-06-01T00:00:00Z",
  "0000-01-01T00:00:00Z",
  "9999-12-31T23:59:59Z",
  "2026-13-40T25:61:61Z",
  "2026-01-01T00:00:00+99:99",
  "true",
  "[]",
  "{}",
  "a,b,,c",
  "../../etc/passwd",
];

function validPaths(): string[] {
  const window = `start_time=${iso(baseMs)}&end_time=${iso(baseMs + 3_600_000)}`;
  return [
    "/api/v1/gpus?limit=2",
    "/api/v1/gpus?hostname=host-a",
    `/api/v1/gpus/${gpuA.uuid}`,
    "/api/v1/gpus/host-a:1",
    `/api/v1/gpus/${gpuA.uuid}/telemetry?${window}&limit=5`,
    `/api/v1/gpus/${gpuB.uuid}/telemetry?metric=${utilization},${power}&order=desc`,
    `/api/v1/gpus/${gpuA.uuid}/telemetry?start_time=${iso(baseMs)}&limit=3&cursor=${encodeURIComponent(cursors[0]!)}`,
    `/api/v1/gpus/${gpuA.uuid}/telemetry/summary?${window}&step=1m&agg=max`,
    `/api/v1/gpus?limit=1&cursor=${encodeURIComponent(cursors[1]!)}`,
    "/api/v1/hosts",
    "/api/v1/metrics",
    "/health",
  ];
}

function mutateCursor(cursor: string): string {
  const roll = random.int(0, 5);
  if (roll === 0) return cursor.slice(0, random.int(0, cursor.length));
  if (roll === 1) {
    const at = random.int(0, cursor.length - 1);
    return `${cursor.slice(0, at)}${random.pick(["A", "_", "-", ".", "z"])}${cursor.slice(at + 1)}`;
  }
  if (roll === 2) return `${cursor}${cursor}`;
  if (roll === 3)
    return Buffer.from(JSON.stringify({ v: 2, kind: "telemetry", check: "x", position: {} })).toString("base64url");
  if (roll === 4) return `${cursor.split(".")[0]}.${Buffer.from(random.bytes(32)).toString("base64url")}`;
  return random.pick(nasty);
}

function mutateQuery(url: URL): void {
  const keys = ["start_time", "end_time", "limit", "metric", "order", "cursor", "hostname", "step", "agg", "junk"];
  for (let edits = random.int(1, 3); edits > 0; edits--) {
    const key = random.pick(keys);
    const roll = random.int(0, 3);
    if (roll === 0) url.searchParams.delete(key);
    else if (roll === 1) url.searchParams.append(key, random.pick(nasty));
    else if (key === "cursor") url.searchParams.set(key, mutateCursor(random.pick(cursors)));
    else url.searchParams.set(key, random.pick(nasty));
  }
}

function mutatePath(url: URL): void {
  const segments = url.pathname.split("/");
  const at = random.int(1, segments.length - 1);
  const roll = random.int(0, 3);
  if (roll === 0) segments[at] = encodeSegment(random.pick(nasty));
  else if (roll === 1) segments.splice(at, 0, random.pick(["..", "%2e%2e", "telemetry", "x"]));
  else if (roll === 2) segments[at] = "G".repeat(random.int(100, 20_000));
  else segments.length = at;
  url.pathname = segments.join("/");
}

/** encodeURIComponent, except that a lone surrogate goes in raw (the URL then carries its replacement). */
function encodeSegment(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return text;
  }
}

function fuzzedRequest(): Request {
  const url = new URL(`http://localhost${random.pick(validPaths())}`);
  const roll = random.next();
  if (roll < 0.45) mutateQuery(url);
  else if (roll < 0.75) mutatePath(url);
  else if (roll < 0.85) {
    mutateQuery(url);
    mutatePath(url);
  }
  const headers: Record<string, string> = {};
  const auth = random.next();
  // Mostly the read token (to reach the routes); sometimes none, a wrong one or junk: always a JSON 401.
  if (auth < 0.9) headers.authorization = `Bearer ${testReadToken}`;
  else if (auth < 0.94)
    headers.authorization = random.pick(["Bearer", "Basic dXNlcjpwYXNz", "Bearer \u00ff", "bearer  x y"]);
  else if (auth < 0.97) headers.authorization = `Bearer ${"Z".repeat(random.int(1, 2_000))}`;
  if (random.next() < 0.2) headers.accept = random.pick(["text/html", "*/*", "application/xml", "\u00ff"]);
  if (random.next() < 0.1) headers["x-junk"] = "j".repeat(random.int(10, 30_000));
  if (random.next() < 0.05)
    headers["content-type"] = random.pick(["application/json", "text/csv", "multipart/form-data"]);
  const method = random.next() < 0.07 ? random.pick(["POST", "PUT", "DELETE", "PATCH"]) : "GET";
  const body = method === "GET" ? undefined : random.pick(["{}", "not json", ""]);
  return new Request(url.toString(), { method, headers, ...(body === undefined ? {} : { body }) });
}

test(`${requestCount} fuzzed API requests (seed ${seed}): no 5xx, every error is JSON`, async () => {
  const handle = (request: Request) => oversizedRequest(request) ?? fixture.app.handle(request);
  const problems: string[] = [];
  const statuses = new Map<number, number>();
  let made = 0;
  const worker = async () => {
    while (made < requestCount) {
      made += 1;
      const request = fuzzedRequest();
      const response = await handle(request);
      const text = await response.text();
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      const where = `${request.method} ${request.url.slice(0, 300)}`;
      if (response.status >= 500) problems.push(`${response.status} ${where}: ${text.slice(0, 300)}`);
      if (response.status >= 400 && !isJsonError(response, text))
        problems.push(`not JSON: ${response.status} ${where}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  expect(problems.slice(0, 20)).toEqual([]);
  expect(statuses.get(200) ?? 0).toBeGreaterThan(requestCount / 10);
  expect(statuses.get(400) ?? 0).toBeGreaterThan(requestCount / 10);
  process.stdout.write(
    `api fuzz: ${requestCount} requests, statuses ${JSON.stringify(Object.fromEntries(statuses))}\n`,
  );
}, 120_000);

function isJsonError(response: Response, text: string): boolean {
  if (!(response.headers.get("content-type") ?? "").includes("application/json")) return false;
  try {
    const body = JSON.parse(text) as { error?: unknown; message?: unknown };
    return typeof body.error === "string" && typeof body.message === "string";
  } catch {
    return false;
  }
}
