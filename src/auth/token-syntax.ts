import { randomBytes } from "node:crypto";

/**
 * What a bearer token may look like (RFC 6750's b64token, with bounds), and the one
 * way tokens are compared: by their SHA-256 digest. A configured list may hold a
 * token or only its digest (`sha256:<hex>`), so a server's list need not contain the
 * clients' secrets.
 */

/** Shorter tokens are refused in configuration: they could be guessed. */
export const tokenCharsMin = 16;
/** A presented token longer than this is refused without hashing it. */
export const tokenCharsMax = 512;
/** RFC 6750 b64token: letters, digits, `-._~+/`, then optional `=` padding. */
const tokenPattern = /^[A-Za-z0-9\-._~+/]+=*$/;
export const digestPrefix = "sha256:";
const digestPattern = /^sha256:[0-9a-f]{64}$/;

export const digestBytes = 32;

/** Why a text is not a usable token, or undefined when it is. Never repeats the text. */
export function tokenProblem(text: string): string | undefined {
  if (text.length < tokenCharsMin) return `a token must have at least ${tokenCharsMin} characters, got ${text.length}`;
  if (text.length > tokenCharsMax) return `a token must have at most ${tokenCharsMax} characters, got ${text.length}`;
  if (!tokenPattern.test(text)) return "a token may hold only letters, digits and -._~+/ (then = padding)";
  return undefined;
}

/** True for a text a client may present (not checked for the configured minimum length). */
export function isPresentable(text: string): boolean {
  return text.length > 0 && text.length <= tokenCharsMax && tokenPattern.test(text);
}

export function isDigestEntry(text: string): boolean {
  return digestPattern.test(text);
}

/** The SHA-256 of a token's UTF-8 bytes (Bun's one-shot hash: a fifth of node:crypto's cost per call). */
export function tokenDigest(token: string): Buffer {
  const digest = Bun.SHA256.hash(token) as Uint8Array;
  return Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength);
}

/** `sha256:<hex>` of a token: what a server's list can hold instead of the token. */
export function digestEntry(token: string): string {
  return `${digestPrefix}${tokenDigest(token).toString("hex")}`;
}

/** The digest a `sha256:<hex>` entry names. */
export function digestOfEntry(entry: string): Buffer {
  if (!isDigestEntry(entry)) throw new Error("not a sha256:<64 hex digits> entry");
  const digest = Buffer.from(entry.slice(digestPrefix.length), "hex");
  if (digest.byteLength !== digestBytes) throw new Error(`digest of ${digest.byteLength} bytes`);
  return digest;
}

/** A new random token: 32 bytes, base64url (43 characters). */
export function newToken(): string {
  return randomBytes(32).toString("base64url");
}
