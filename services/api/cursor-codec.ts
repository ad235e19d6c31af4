import { type Static, type TSchema, Type } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { badRequest } from "./errors.ts";

/**
 * Opaque page cursors: base64url of JSON { v, kind, check, position }. `check` is a
 * hash of the query the cursor belongs to, so a cursor replayed with a different
 * filter, GPU or order is refused instead of silently returning a wrong page.
 * Not a secret: a forged cursor can only name a position, which is validated.
 */

export const cursorLengthMax = 1_024;
const cursorVersion = 1;

const Envelope = Type.Object({
  v: Type.Literal(cursorVersion),
  kind: Type.String({ maxLength: 32 }),
  check: Type.String({ maxLength: 32 }),
  position: Type.Unknown(),
});
const envelopeChecker = TypeCompiler.Compile(Envelope);

export interface CursorCodec<S extends TSchema> {
  encode(check: string, position: Static<S>): string;
  /** Throws a 400 ApiError naming `cursor` when the text is not a cursor of this query. */
  decode(check: string, text: string): Static<S>;
}

export function createCursorCodec<S extends TSchema>(kind: string, positionSchema: S): CursorCodec<S> {
  const positionChecker = TypeCompiler.Compile(positionSchema);
  const malformed = () =>
    badRequest("cursor", "malformed cursor; pass next_cursor exactly as a previous page returned it");
  return {
    encode(check, position) {
      if (!positionChecker.Check(position))
        throw new Error(`cursor ${kind}: invalid position ${JSON.stringify(position)}`);
      const text = Buffer.from(JSON.stringify({ v: cursorVersion, kind, check, position })).toString("base64url");
      if (text.length > cursorLengthMax) throw new Error(`cursor ${kind}: ${text.length} chars > ${cursorLengthMax}`);
      return text;
    },
    decode(check, text) {
      if (text.length > cursorLengthMax || !/^[A-Za-z0-9_-]+$/.test(text)) throw malformed();
      const envelope = parseJson(Buffer.from(text, "base64url").toString("utf8"));
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
