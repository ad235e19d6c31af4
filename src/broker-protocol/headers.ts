/**
 * HTTP header names of the broker's protocol, written by the broker and read by the
 * clients. Lower case: that is how fetch's Headers hands them out.
 */

/** What a fetch answer says about its partition, beside the raw batch bytes. */
export const FetchHeader = {
  highWatermark: "x-high-watermark",
  logStartOffset: "x-log-start-offset",
  nextOffset: "x-next-offset",
  batchCount: "x-batch-count",
} as const;

/** Seconds (rounded up) a client should wait before retrying a slow-down answer. */
export const RetryAfterHeader = "retry-after";
/** The same wait in milliseconds, for clients that back off more precisely than a second. */
export const RetryAfterMsHeader = "retry-after-ms";

export const ContentTypeHeader = "content-type";
/** `Bearer <token>`: what every request but the operations routes needs (see BrokerScope in routes.ts). */
export const AuthorizationHeader = "authorization";
/** Produce request bodies and fetch answers: frames and record batches. */
export const binaryContentType = "application/octet-stream";
export const jsonContentType = "application/json";
