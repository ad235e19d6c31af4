import { describe, expect, test } from "bun:test";
import zlib from "node:zlib";
import { decodeBody, encodeBody, pickResponseCodec } from "../../../services/clickhouse-embedded/http-compression.ts";

const text = new TextEncoder().encode('{"id":1}\n'.repeat(1_000));

describe("request and response compression", () => {
  test("every codec the client uses round-trips", () => {
    for (const codec of ["gzip", "deflate", "br", "zstd"] as const) {
      expect(decodeBody(encodeBody(text, codec), codec, 1_000_000)).toEqual(text);
    }
  });

  test("a body that inflates past the limit is refused, not buffered", () => {
    const bomb = zlib.gzipSync(Buffer.alloc(10_000_000));
    expect(() => decodeBody(bomb, "gzip", 1_000_000)).toThrow(/limit 1000000 bytes/);
  });

  test("an unknown Content-Encoding is UNKNOWN_COMPRESSION_METHOD", () => {
    expect(() => decodeBody(text, "lz77", 1_000_000)).toThrow(/UNKNOWN_COMPRESSION_METHOD/);
    expect(decodeBody(text, null, 1_000_000)).toBe(text);
  });

  test("the response codec is the first supported one the client accepts", () => {
    expect(pickResponseCodec("zstd")).toBe("zstd");
    expect(pickResponseCodec("lz4, gzip;q=0.5")).toBe("gzip");
    expect(pickResponseCodec(null)).toBeUndefined();
  });
});
