import { Elysia, t } from "elysia";
import { requiresScope } from "../../src/http/route-security.ts";
import type { Logger } from "../../src/observability/logger.ts";
import type { BatchProducer } from "./batch-producer.ts";
import type { IdempotencyKeys } from "./idempotency-keys.ts";
import type { StreamerMetrics } from "./metrics.ts";
import { CsvFormatError, CsvUploadSummary, parseCsvStream, uploadParseDefaults } from "./sources/csv-source.ts";
import type { RowBatch } from "./sources/row-batch.ts";
import { type SpooledUpload, type UploadSpool, UploadTooLargeError } from "./upload-spool.ts";

/**
 * POST /api/v1/upload: a CSV streamed through the same validation as the file source,
 * all or nothing. The body is spooled to a file first (the size limit holds for a
 * chunked body too), then checked whole (an unusable file produces nothing), then
 * every valid row is produced, whatever partitions this streamer owns (an upload is an
 * operator's explicit action), and the answer comes once the broker acknowledged them.
 * With an Idempotency-Key a retry gets the first answer back and produces nothing.
 */

/** The produce path, once the streamer is connected to the broker. */
export interface UploadTarget {
  batchProducer: BatchProducer;
  /** Sends what is buffered and waits for the broker's acknowledgement. */
  flush: () => Promise<void>;
}

export interface UploadRouteOptions {
  /** Undefined while the broker has not been reached yet (the upload answers 503). */
  target: () => UploadTarget | undefined;
  metrics: StreamerMetrics;
  logger: Logger;
  bytesMax: number;
  batchRowsMax: number;
  spool: UploadSpool;
  keys: IdempotencyKeys;
}

export const UploadError = t.Object(
  {
    error: t.String({
      description:
        "unusable_csv, too_large, unsupported_media_type, bad_idempotency_key, idempotency_key_in_use, idempotency_key_reused, broker_unavailable, missing_token or invalid_token",
    }),
    message: t.String({ description: "what is wrong, for a person" }),
    bytesReceived: t.Optional(t.Integer({ description: "too_large: bytes read before stopping" })),
    bytesMax: t.Optional(t.Integer({ description: "too_large: the limit" })),
    produced: t.Optional(t.Integer({ description: "rows produced by this request (0: nothing was stored)" })),
  },
  { $id: "UploadError" },
);

export const idempotencyKeyHeader = "idempotency-key";
const idempotencyKeyPattern = /^[\x21-\x7e]{1,255}$/;
const csvMediaTypePattern = /^text\/csv\s*(;\s*charset\s*=\s*"?utf-8"?\s*)?$/i;

type Answer = { status: number; body: unknown };

export function uploadRoute(options: UploadRouteOptions) {
  return new Elysia({ name: "upload-route" }).post(
    "/api/v1/upload",
    async ({ request }): Promise<Response> => {
      const answer = await handleUpload(options, request);
      const headers = answer.replayed === true ? { "idempotent-replayed": "true" } : undefined;
      return Response.json(answer.body, { status: answer.status, ...(headers === undefined ? {} : { headers }) });
    },
    {
      parse: "none",
      response: {
        200: CsvUploadSummary,
        400: UploadError,
        401: UploadError,
        409: UploadError,
        413: UploadError,
        415: UploadError,
        422: UploadError,
        503: UploadError,
      },
      detail: {
        ...requiresScope("upload"),
        tags: ["upload"],
        summary:
          "Stream a DCGM CSV once, all or nothing: every valid row is produced; answers accepted and rejected rows",
        description:
          "Content-Type must be text/csv (charset utf-8 if given; 415 otherwise). The body is spooled and checked whole before any row is produced: 413 above the size limit (also for a chunked body) and 400 when the file as a whole is unusable (no header, a required column missing, an unterminated quote), both with nothing produced. Invalid rows are skipped and reported by reason, the first ones with their line number (the header is line 1). An `Idempotency-Key` header (1-255 visible ASCII characters) makes a retry answer the first result without producing again (409 while the first is still running, 422 when the key comes with a different body); keys are kept per streamer, in memory, for STREAMER_IDEMPOTENCY_TTL_MS.",
        parameters: [
          {
            name: idempotencyKeyHeader,
            in: "header",
            required: false,
            schema: { type: "string", maxLength: 255 },
            description: "makes a retried upload produce nothing twice",
          },
        ],
        requestBody: {
          required: true,
          content: { "text/csv": { schema: { type: "string", description: "CSV with the DCGM header" } } },
        },
      },
    },
  );
}

async function handleUpload(options: UploadRouteOptions, request: Request): Promise<Answer & { replayed?: boolean }> {
  const refused = refuseEarly(options, request);
  if (refused !== undefined) return refused;
  const target = options.target();
  if (target === undefined) return failure(503, "broker_unavailable", "not connected to the broker yet");
  let spooled: SpooledUpload;
  try {
    spooled = await options.spool.write(request.body ?? emptyBody(), options.bytesMax);
  } catch (error) {
    if (error instanceof UploadTooLargeError) return tooLarge(error.bytesReceived, options.bytesMax);
    throw error;
  }
  try {
    const key = request.headers.get(idempotencyKeyHeader);
    if (key === null) return await ingest(options, target, spooled);
    return await ingestOnce(options, target, spooled, key);
  } finally {
    await spooled.remove();
  }
}

/** Content type, declared size and key format: answered before a byte of the body is read. */
function refuseEarly(options: UploadRouteOptions, request: Request): Answer | undefined {
  const contentType = request.headers.get("content-type") ?? "";
  if (!csvMediaTypePattern.test(contentType.trim())) {
    const given = contentType === "" ? "no Content-Type" : `Content-Type ${JSON.stringify(contentType.slice(0, 100))}`;
    return failure(415, "unsupported_media_type", `${given}: send text/csv (UTF-8)`);
  }
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (Number.isFinite(declared) && declared > options.bytesMax) return tooLarge(0, options.bytesMax, declared);
  const key = request.headers.get(idempotencyKeyHeader);
  if (key !== null && !idempotencyKeyPattern.test(key)) {
    return failure(400, "bad_idempotency_key", "Idempotency-Key must be 1-255 visible ASCII characters");
  }
  return undefined;
}

async function ingestOnce(
  options: UploadRouteOptions,
  target: UploadTarget,
  spooled: SpooledUpload,
  key: string,
): Promise<Answer & { replayed?: boolean }> {
  const lookup = options.keys.begin(key, spooled.sha256);
  if (lookup.kind === "replay") return { status: lookup.answer.status, body: lookup.answer.body, replayed: true };
  if (lookup.kind === "in_progress") {
    return failure(409, "idempotency_key_in_use", "an upload with this Idempotency-Key is still running");
  }
  if (lookup.kind === "other_body") {
    return failure(422, "idempotency_key_reused", "this Idempotency-Key was used for a different body");
  }
  let answer: Answer | undefined;
  try {
    answer = await ingest(options, target, spooled);
    return answer;
  } finally {
    // A broker failure is not final: the same key may be retried and then produces.
    const final = answer !== undefined && answer.status !== 503;
    options.keys.finish(key, final ? { sha256: spooled.sha256, ...answer! } : undefined);
  }
}

/** Checks the spooled file whole, then produces its valid rows. */
async function ingest(options: UploadRouteOptions, target: UploadTarget, spooled: SpooledUpload): Promise<Answer> {
  const parseOptions = { ...uploadParseDefaults, bytesMax: options.bytesMax, batchRowsMax: options.batchRowsMax };
  try {
    await parseCsvStream(Bun.file(spooled.path).stream(), () => undefined, parseOptions);
  } catch (error) {
    if (error instanceof CsvFormatError) return failure(400, "unusable_csv", error.message, { produced: 0 });
    throw error;
  }
  let produced = 0;
  const onBatch = async (batch: RowBatch): Promise<void> => {
    produced += await target.batchProducer.produceAll(batch);
  };
  try {
    const summary = await parseCsvStream(Bun.file(spooled.path).stream(), onBatch, parseOptions);
    await target.flush();
    record(options, summary);
    return { status: 200, body: summary };
  } catch (error) {
    options.logger.error({ err: error, produced }, "upload failed");
    const message = error instanceof Error ? error.message : String(error);
    return failure(503, "broker_unavailable", message, { produced });
  }
}

function record(options: UploadRouteOptions, summary: CsvUploadSummary): void {
  options.metrics.countRejected(summary.rejected);
  const rejectedCount = Object.values(summary.rejected).reduce((sum, count) => sum + count, 0);
  options.metrics.rowsRead.inc(rejectedCount);
  options.logger.info(
    {
      accepted: summary.accepted,
      rejected: summary.rejected,
      firstErrors: summary.errors.slice(0, 10),
      bytes: summary.bytes,
    },
    "upload streamed",
  );
}

function tooLarge(bytesReceived: number, bytesMax: number, declared?: number): Answer {
  const message =
    declared === undefined
      ? `upload exceeds ${bytesMax} bytes; nothing was produced`
      : `upload of ${declared} bytes exceeds ${bytesMax} bytes; nothing was produced`;
  return failure(413, "too_large", message, { bytesReceived, bytesMax, produced: 0 });
}

function failure(status: number, error: string, message: string, extra: Record<string, number> = {}): Answer {
  return { status, body: { error, message, ...extra } };
}

function emptyBody(): ReadableStream<Uint8Array> {
  return new ReadableStream({ start: (controller) => controller.close() });
}
