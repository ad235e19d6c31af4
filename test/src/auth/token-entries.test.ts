import { describe, expect, test } from "bun:test";
import { parseTokenEntries, TokenEntryError } from "../../../src/auth/token-entries.ts";
import { digestEntry, newToken, tokenDigest } from "../../../src/auth/token-syntax.ts";

const source = "BROKER_TOKENS_CONSUME";
const limitable = { source, limitable: true };

describe("token lists", () => {
  test("entries by line or ';', comments and blanks skipped; a token and its sha256 entry name the same digest", () => {
    const first = newToken();
    const second = newToken();
    const entries = parseTokenEntries(
      `# rotation in progress\n${first}\n\n  ${digestEntry(second)} ; ${second}\n`,
      limitable,
    );
    expect(entries.map((entry) => entry.digest.toString("hex"))).toEqual([
      tokenDigest(first).toString("hex"),
      tokenDigest(second).toString("hex"),
      tokenDigest(second).toString("hex"),
    ]);
    expect(entries.every((entry) => entry.limit === undefined)).toBe(true);
  });

  test("groups=a,b limits an entry where the scope allows it", () => {
    const [entry] = parseTokenEntries(`${newToken()} groups=collectors,streamers`, limitable);
    expect([...(entry?.limit ?? [])]).toEqual(["collectors", "streamers"]);
    expect(() =>
      parseTokenEntries(`${newToken()} groups=collectors`, { source: "BROKER_TOKENS_ADMIN", limitable: false }),
    ).toThrow("BROKER_TOKENS_ADMIN: entry 1: this scope cannot be limited to groups");
  });

  test.each([
    ["short-token", "at least 16 characters"],
    ["a,b,c,d,e,f,g,h,i,j,k,l", "may hold only letters"],
    ["sha256:abc", "64 lowercase hex digits"],
    [`${"x".repeat(20)} more`, "groups=a,b after the token"],
    [`${"x".repeat(20)} and more`, "at most one groups=a,b"],
    [`${"x".repeat(20)} groups=a b`, "at most one groups=a,b"],
    [`${"x".repeat(20)} groups=bad/name`, "group 1 is not 1-200 letters"],
  ])("%p is refused: %p, naming the source and entry, never the text", (text, problem) => {
    const secret = `${newToken()}\n${text}`;
    let error: unknown;
    try {
      parseTokenEntries(secret, limitable);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(TokenEntryError);
    const message = (error as Error).message;
    expect(message).toStartWith(`${source}: entry 2: `);
    expect(message).toContain(problem);
    for (const part of secret.split(/\s+/)) if (part.length >= 16) expect(message).not.toContain(part);
  });
});
