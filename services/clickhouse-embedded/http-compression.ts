import zlib from "node:zlib";
import { endpointError } from "./errors.ts";

/** Codecs `@clickhouse/client` can use for request bodies and responses. */
const codecs = ["gzip", "deflate", "br", "zstd"] as const;
export type Codec = (typeof codecs)[number];

function isCodec(value: string): value is Codec {
  return (codecs as readonly string[]).includes(value);
}

/** Decompresses a request body by its Content-Encoding, refusing output above `bytesMax`. */
export function decodeBody(body: Uint8Array, contentEncoding: string | null, bytesMax: number): Uint8Array {
  const encoding = (contentEncoding ?? "").trim().toLowerCase();
  if (encoding === "" || encoding === "identity" || body.byteLength === 0) return body;
  if (!isCodec(encoding)) {
    throw endpointError("UNKNOWN_COMPRESSION_METHOD", `Unknown Content-Encoding ${JSON.stringify(encoding)}`);
  }
  const options = { maxOutputLength: bytesMax };
  try {
    switch (encoding) {
      case "gzip":
        return zlib.gunzipSync(body, options);
      case "deflate":
        return zlib.inflateSync(body, options);
      case "br":
        return zlib.brotliDecompressSync(body, options);
      case "zstd":
        return zlib.zstdDecompressSync(body, options);
    }
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw endpointError(
      "BAD_ARGUMENTS",
      `Cannot decompress ${encoding} request body (limit ${bytesMax} bytes): ${reason}`,
    );
  }
}

/** The codec to answer with: the first one in Accept-Encoding that we support. */
export function pickResponseCodec(acceptEncoding: string | null): Codec | undefined {
  for (const part of (acceptEncoding ?? "").split(",")) {
    const name = part.split(";")[0]?.trim().toLowerCase() ?? "";
    if (isCodec(name)) return name;
  }
  return undefined;
}

export function encodeBody(body: Uint8Array, codec: Codec): Uint8Array {
  switch (codec) {
    case "gzip":
      return zlib.gzipSync(body);
    case "deflate":
      return zlib.deflateSync(body);
    case "br":
      return zlib.brotliCompressSync(body);
    case "zstd":
      return zlib.zstdCompressSync(body);
  }
}
