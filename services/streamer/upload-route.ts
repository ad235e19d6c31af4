import { Elysia, t } from "elysia";
import type { Logger } from "../../src/observability/logger.ts";
import type { BatchProducer } from "./batch-producer.ts";
import type { StreamerMetrics } from "./metrics.ts";
import { CsvFormatError, CsvUploadSummary, parseCsvStream, uploadParseDefaults } from "./sources/csv-source.ts";
import type { RowBatch } from "./sources/row-batch.ts";

/**
 * POST /api/v1/upload: the body is a CSV streamed once through the same validation
 * as the file source. Every valid row is produced, whatever partitions this streamer
 * owns (an upload is an operator's explicit action, not part of the shared replay),
 * and the answer comes once the broker acknowledged them.
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
}

export const UploadError = t.Object(
  {
    error: t.String({ description: "unusable_csv, too_large or broker_unavailable" }),
    message: t.String({ description: "what is wrong, for a person" }),
  },
  { $id: "UploadError" },
);

class UploadTooLargeError extends Error {
  override name = "UploadTooLargeError";
}

export function uploadRoute(options: UploadRouteOptions) {
  return new Elysia({ name: "upload-route" }).post(
    "/api/v1/upload",
    async ({ request, set }) => {
      const declared = Number(request.headers.get("content-length") ?? Number.NaN);
      if (Number.isFinite(declared) && declared > options.bytesMax) {
        set.status = 413;
        return { error: "too_large", message: `upload of ${declared} bytes exceeds ${options.bytesMax} bytes` };
      }
      const target = options.target();
      if (target === undefined) {
        set.status = 503;
        return { error: "broker_unavailable", message: "not connected to the broker yet" };
      }
      try {
        const summary = await ingest(options, target, request);
        set.status = 200;
        return summary;
      } catch (error) {
        const answer = errorAnswer(error, options.logger);
        set.status = answer.status;
        return answer.body;
      }
    },
    {
      parse: "none",
      response: { 200: CsvUploadSummary, 400: UploadError, 413: UploadError, 503: UploadError },
      detail: {
        tags: ["upload"],
        summary: "Stream a DCGM CSV once: every valid row is produced; answers accepted and rejected rows",
        description:
          "Header-driven (columns found by name). Invalid rows are skipped and reported by reason, the first ones with their line number (the header is line 1). 400 when the file as a whole is unusable (no header, a required column missing, an unterminated quote); 413 above the size limit.",
        requestBody: {
          required: true,
          content: { "text/csv": { schema: { type: "string", description: "CSV with the DCGM header" } } },
        },
      },
    },
  );
}

async function ingest(options: UploadRouteOptions, target: UploadTarget, request: Request): Promise<CsvUploadSummary> {
  const body = request.body;
  if (body === null) throw new CsvFormatError("empty body: no header line");
  const parseOptions = { ...uploadParseDefaults, bytesMax: options.bytesMax, batchRowsMax: options.batchRowsMax };
  const onBatch = async (batch: RowBatch): Promise<void> => {
    await target.batchProducer.produceAll(batch);
  };
  const summary = await parseCsvStream(bounded(body, options.bytesMax), onBatch, parseOptions);
  await target.flush();
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
  return summary;
}

/** Counts bytes as they arrive: a body without a length is cut off at the bound too. */
async function* bounded(stream: ReadableStream<Uint8Array>, bytesMax: number): AsyncGenerator<Uint8Array> {
  let bytes = 0;
  for await (const chunk of stream) {
    bytes += chunk.byteLength;
    if (bytes > bytesMax) throw new UploadTooLargeError(`upload exceeds ${bytesMax} bytes`);
    yield chunk;
  }
}

function errorAnswer(
  error: unknown,
  logger: Logger,
): { status: 400 | 413 | 503; body: { error: string; message: string } } {
  if (error instanceof CsvFormatError) return { status: 400, body: { error: "unusable_csv", message: error.message } };
  if (error instanceof UploadTooLargeError)
    return { status: 413, body: { error: "too_large", message: error.message } };
  logger.error({ err: error }, "upload failed");
  const message = error instanceof Error ? error.message : String(error);
  return { status: 503, body: { error: "broker_unavailable", message } };
}
