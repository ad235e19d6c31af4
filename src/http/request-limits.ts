import { maxHeaderSize } from "node:http";
import type { Logger } from "../observability/logger.ts";

/**
 * Oversized request lines and headers, answered as JSON by our code. Bun's HTTP parser
 * refuses anything above its own cut-off (16 KiB unless `--max-http-header-size` is
 * given) with an empty 431 before any handler runs, so every process is started with
 * `parserHeaderBytesFlag` (the package scripts, the dev stack, the image's BUN_OPTIONS,
 * the test harness): the parser then lets requests up to 256 KiB through and these
 * checks answer the ones over our limits with a body a client can read.
 */

/** A request line's target (path and query) longer than this gets 414. */
export const urlBytesMax = 8 * 1024;
/** Header names and values together above this get 431. */
export const headerBytesMax = 16 * 1024;
/** What Bun's parser must accept for our checks to see a request first. */
export const parserHeaderBytesMin = 256 * 1024;
/** The bun command-line flag (or BUN_OPTIONS entry) that sets it. */
export const parserHeaderBytesFlag = `--max-http-header-size=${parserHeaderBytesMin}`;

/** The JSON refusal of a request over urlBytesMax or headerBytesMax, or undefined when it is within both. */
export function oversizedRequest(request: Request): Response | undefined {
  const schemeEnd = request.url.indexOf("//");
  const pathStart = request.url.indexOf("/", schemeEnd + 2);
  const targetBytes = pathStart < 0 ? 1 : request.url.length - pathStart;
  if (targetBytes > urlBytesMax) {
    return refusal(414, "uri_too_long", `request target of ${targetBytes} bytes exceeds ${urlBytesMax}`);
  }
  let headerBytes = 0;
  request.headers.forEach((value, name) => {
    headerBytes += name.length + value.length + 4;
  });
  if (headerBytes > headerBytesMax) {
    return refusal(431, "headers_too_large", `request headers of ${headerBytes} bytes exceed ${headerBytesMax}`);
  }
  return undefined;
}

function refusal(status: number, error: string, message: string): Response {
  return Response.json({ error, message, retryable: false }, { status, headers: { connection: "close" } });
}

/** Says at start-up when this process runs without the parser flag (oversized requests then get Bun's empty 431). */
export function warnIfParserLimitLow(logger: Logger): void {
  if (maxHeaderSize >= parserHeaderBytesMin) return;
  logger.warn(
    { maxHeaderSize, wanted: parserHeaderBytesMin, flag: parserHeaderBytesFlag },
    "bun runs without the header-size flag: requests over its limit get an empty 431 instead of a JSON error",
  );
}
