import { digestEntry, newToken } from "../../src/auth/token-syntax.ts";
import type { ParsedArgs } from "./parse-args.ts";

/**
 * `token new [--groups a,b]`: a fresh random token for a client, and the line a
 * service's token list holds for it (its digest, so the list never holds the token).
 * Rotation: add the line beside the old one, give the client the new token, then
 * remove the old line.
 */
export function runTokenCommand(rest: string[], args: ParsedArgs, out: (line: string) => void): number {
  const [action] = rest;
  if (action !== "new") throw new Error(`token: unknown action ${action ?? "(none)"}; use new`);
  const token = newToken();
  const groups = args.options.get("groups");
  out(`token   ${token}`);
  out(`entry   ${digestEntry(token)}${groups === undefined ? "" : ` groups=${groups}`}`);
  return 0;
}
