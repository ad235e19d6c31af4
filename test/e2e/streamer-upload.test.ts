/**
 * The upload endpoint of a real streamer process against a real broker: all or
 * nothing (size limit before producing, also for chunked bodies; an unusable file
 * produces nothing), Idempotency-Key, Content-Type, control characters.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type StreamerProcess, startStreamer } from "../services/streamer/streamer-process.ts";
import { readTopic } from "../services/streamer/topic-records.ts";
import { type BrokerProcess, startBroker } from "../support/broker-process.ts";
import { bearer, testUploadToken } from "../support/test-tokens.ts";

const header = "timestamp,metric_name,gpu_id,device,uuid,modelName,Hostname,container,pod,namespace,value,labels_raw";
const row = (index: number, host = "h") =>
  `"2025-07-18T20:42:34Z","DCGM_FI_DEV_GPU_UTIL","0","nvidia0","GPU-${index}","H100","${host}","","","","${index}",""`;
const rows = (count: number) => Array.from({ length: count }, (_, index) => row(index)).join("\n");
const bytesMax = 128 * 1024;
const topic = "uploads";

let broker: BrokerProcess;
let streamer: StreamerProcess;
let directory = "";
let spoolDir = "";

beforeAll(async () => {
  broker = await startBroker();
  directory = await mkdtemp(join(tmpdir(), "streamer-upload-"));
  spoolDir = join(directory, "spool");
  await writeFile(join(directory, "header-only.csv"), `${header}\n`);
  streamer = await startStreamer({
    brokerUrl: broker.url,
    env: {
      STREAMER_CSV_PATH: join(directory, "header-only.csv"),
      STREAMER_TOPIC: topic,
      STREAMER_GROUP: topic,
      STREAMER_UPLOAD_BYTES_MAX: String(bytesMax),
      STREAMER_UPLOAD_SPOOL_DIR: spoolDir,
    },
  });
  await streamer.waitForLog('"msg":"streaming"');
});
afterAll(async () => {
  await streamer?.stop();
  await broker?.stop();
  await rm(directory, { recursive: true, force: true });
});

async function upload(
  body: string | Uint8Array | ReadableStream<Uint8Array>,
  headers: Record<string, string> = { "content-type": "text/csv" },
) {
  const response = await fetch(`${streamer.url}/api/v1/upload`, {
    method: "POST",
    body,
    headers: { ...bearer(testUploadToken), ...headers },
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Record<string, unknown>,
  };
}

const stored = async () => (await readTopic(broker.url, topic)).length;

describe("upload: all or nothing", () => {
  test("Content-Type must be CSV (UTF-8): anything else is a JSON 415 and nothing is produced", async () => {
    const body = `${header}\n${row(1)}\n`;
    for (const contentType of [
      "application/json",
      "application/octet-stream",
      "text/csv; charset=utf-16",
      "text/plain",
    ]) {
      const answer = await upload(body, { "content-type": contentType });
      expect({ contentType, status: answer.status, error: answer.body.error }).toEqual({
        contentType,
        status: 415,
        error: "unsupported_media_type",
      });
    }
    expect(await stored()).toBe(0);
    expect((await upload(body, { "content-type": "text/csv; charset=UTF-8" })).status).toBe(200);
    expect(await stored()).toBe(1);
  });

  test("a chunked body over the limit (no Content-Length) is a JSON 413 with nothing produced; no spool file is left", async () => {
    const before = await stored();
    const text = new TextEncoder().encode(`${header}\n${rows(3_000)}\n`);
    expect(text.byteLength).toBeGreaterThan(bytesMax * 2);
    const chunked = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let offset = 0; offset < text.byteLength; offset += 8_192)
          controller.enqueue(text.subarray(offset, offset + 8_192));
        controller.close();
      },
    });
    const answer = await upload(chunked);
    expect(answer.status).toBe(413);
    expect(answer.body).toMatchObject({ error: "too_large", bytesMax, produced: 0 });
    expect(answer.body.bytesReceived as number).toBeGreaterThan(bytesMax);
    const declared = await upload(text);
    expect(declared.status).toBe(413);
    expect(declared.body).toMatchObject({ error: "too_large", produced: 0 });
    expect(await stored()).toBe(before);
    expect(await readdir(spoolDir)).toEqual([]);
  });

  test("a file unusable at its end (a quote never closed within a row's limit) produces none of the rows before it", async () => {
    const before = await stored();
    const answer = await upload(`${header}\n${rows(50)}\n"2025-07-18T20:42:34Z","unterminated${"x".repeat(70_000)}\n`);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: "unusable_csv", produced: 0 });
    expect(await stored()).toBe(before);
  });

  test("NUL and other control characters make a bad row with its line; the other rows are produced", async () => {
    const before = await stored();
    const answer = await upload(`${header}\n${row(1)}\n${row(2, "h\u0000x")}\n${row(3)}\n`);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ accepted: 2, rejected: { control_character: 1 } });
    expect(answer.body.errors).toEqual([
      { line: 3, reason: "control_character", detail: "field 7 holds control character U+0000 at character 2" },
    ]);
    expect(await stored()).toBe(before + 2);
  });
});

describe("upload: Idempotency-Key", () => {
  test("a retry with the same key and body answers the first summary and produces nothing twice", async () => {
    const before = await stored();
    const body = `${header}\n${rows(20)}\n`;
    const headers = { "content-type": "text/csv", "idempotency-key": "upload-2026-12-06-a" };
    const first = await upload(body, headers);
    expect(first.status).toBe(200);
    expect(first.body.accepted).toBe(20);
    const retry = await upload(body, headers);
    expect(retry.status).toBe(200);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect(retry.body).toEqual(first.body);
    expect(await stored()).toBe(before + 20);

    const otherBody = await upload(`${header}\n${rows(3)}\n`, headers);
    expect(otherBody.status).toBe(422);
    expect(otherBody.body.error).toBe("idempotency_key_reused");
    const badKey = await upload(body, { "content-type": "text/csv", "idempotency-key": "has space" });
    expect(badKey.status).toBe(400);
    expect(await stored()).toBe(before + 20);
  });

  test("a refused upload is remembered too: its retry is refused the same way without being parsed again", async () => {
    const headers = { "content-type": "text/csv", "idempotency-key": "broken-file" };
    const body = `${header}\n"unterminated${"x".repeat(70_000)}\n`;
    const first = await upload(body, headers);
    const retry = await upload(body, headers);
    expect([first.status, retry.status]).toEqual([400, 400]);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
  });
});
