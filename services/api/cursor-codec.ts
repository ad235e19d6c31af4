import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { type Static, type TSchema, Type } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { badRequest } from "./errors.ts";

/**
 * Opaque page cursors: `<payload>.<mac>`, both base64url. The payload is JSON
 * { v, kind, check, position }; `check` is a hash of the query the cursor belongs to, so
 * a cursor replayed with a different filter, GPU or order is refused instead of
 * silently returning a wrong page. The mac is HMAC-SHA256 over the payload with the
 * API's cursor key (API_CURSOR_KEY), so only this API can mint a cursor: a forged or
 * edited one is a 400 before its position is even read. The position is still checked
 * against its schema (and the window against the route's limits) in case the key leaks.
 */

export const cursorLengthMax = 1_024;
/** Bytes of a generated key, and the least a configured key must decode to. */
export const cursorKeyBytesMin = 32;
const cursorVersion = 2;
const macBytes = 32;

const Envelope = Type.Object({
  v: Type.Literal(cursorVersion),
  kind: Type.String({ maxLength: 32 }),
  check: Type.String({ maxLength: 32 }),
  position: Type.Unknown(),
});
const envelopeChecker = TypeCompiler.Compile(Envelope);
const cursorPattern = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/;

export interface CursorCodec<S extends TSchema> {
  encode(check: string, position: Static<S>): string;
  /** Throws a 400 ApiError naming `cursor` when the text is not a cursor of this query. */
  decode(check: string, text: string): Static<S>;
}

/** A fresh random key: a process without API_CURSOR_KEY accepts only cursors it minted itself. */
export function randomCursorKey(): Uint8Array {
  return new Uint8Array(randomBytes(cursorKeyBytesMin));
}

export function createCursorCodec<S extends TSchema>(kind: string, positionSchema: S, key: Uint8Array): CursorCodec<S> {
  if (key.byteLength < cursorKeyBytesMin) {
    throw new RangeError(`cursor key of ${key.byteLength} bytes, at least ${cursorKeyBytesMin} needed`);
  }
  const positionChecker = TypeCompiler.Compile(positionSchema);
  const malformed = () =>
    badRequest("cursor", "malformed cursor; pass next_cursor exactly as a previous page returned it");
  const mac = (payload: string) => createHmac("sha256", key).update(payload).digest();
  return {
    encode(check, position) {
      if (!positionChecker.Check(position))
        throw new Error(`cursor ${kind}: invalid position ${JSON.stringify(position)}`);
      const payload = Buffer.from(JSON.stringify({ v: cursorVersion, kind, check, position })).toString("base64url");
      const text = `${payload}.${mac(payload).toString("base64url")}`;
      if (text.length > cursorLengthMax) throw new Error(`cursor ${kind}: ${text.length} chars > ${cursorLengthMax}`);
      return text;
    },
    decode(check, text) {
      if (text.length > cursorLengthMax || !cursorPattern.test(text)) throw malformed();
      const [payload = "", given = ""] = text.split(".");
      const givenMac = Buffer.from(given, "base64url");
      if (givenMac.byteLength !== macBytes || !timingSafeEqual(givenMac, mac(payload))) {
        throw badRequest("cursor", "cursor not issued by this API (forged, edited, or signed with another key)");
      }
      const envelope = parseJson(Buffer.from(payload, "base64url").toString("utf8"));
      if (!envelopeChecker.Check(envelope) || envelope.kind !== kind) throw malformed();
      if (envelope.check !== check) {
        throw badRequest(
          "cursor",
          "this cursor belongs to a different query; repeat the original parameters with it, or drop it to start over",
        );
      }
      if (!positionChecker.Check(envelope.position)) throw malformed();
      return envelope.position;
    },
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A short stable hash of the parts that define a query (not the page size). */
export function queryCheck(parts: readonly (string | number)[]): string {
  return Bun.hash.wyhash(JSON.stringify(parts)).toString(36);
}

/** The key from its configured text (base64 or base64url of at least 32 bytes), or undefined when empty. */
export function cursorKeyFromConfig(text: string): Uint8Array | undefined {
  if (text === "") return undefined;
  const bytes = Buffer.from(text, "base64");
  if (bytes.byteLength < cursorKeyBytesMin) {
    throw new RangeError(`API_CURSOR_KEY decodes to ${bytes.byteLength} bytes, at least ${cursorKeyBytesMin} needed`);
  }
  return new Uint8Array(bytes);
}
