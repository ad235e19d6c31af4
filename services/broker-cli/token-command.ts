import { digestEntry, newToken } from "../../src/auth/token-syntax.ts";
import { type Command, printJson, textFlag } from "./cli-context.ts";

/**
 * `token new [--groups a,b]`: a fresh random token for a client, and the line a
 * service's token list holds for it (its digest, so the list never holds the token).
 * Rotation: add the line beside the old one, give the client the new token, then
 * remove the old line. Needs no broker.
 */
export const tokenCommand: Command = {
  words: ["token", "new"],
  operands: [],
  flags: {
    groups: { kind: "text", value: "a,b", help: "limit a consume token to these consumer groups" },
  },
  summary: "print a new token and the entry a broker's token list holds for it (no broker needed)",
  offline: true,
  run(context) {
    const token = newToken();
    const groups = textFlag(context, "groups");
    const entry = `${digestEntry(token)}${groups === undefined ? "" : ` groups=${groups}`}`;
    if (context.json) {
      printJson(context, { token, entry });
      return 0;
    }
    context.out(`token   ${token}`);
    context.out(`entry   ${entry}`);
    return 0;
  },
};
