import { clientToken, type TokenProvider } from "../../src/auth/client-token.ts";
import { readDevToken } from "../dev/dev-secrets.ts";

const loopbackHosts = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

/**
 * The token the CLI presents, first found of: `--token`, BROKER_TOKEN,
 * BROKER_TOKEN_FILE, and — only for a broker on this host — the dev stack's admin
 * token under .data/secrets (so `bun run broker -- …` needs no flag beside `bun run
 * dev`; a dev token is never sent to another host).
 */
export function cliToken(
  flag: string | undefined,
  brokerUrl: string,
  env: Record<string, string | undefined> = process.env,
): TokenProvider | undefined {
  const given = clientToken({
    token: { name: flag === undefined ? "BROKER_TOKEN" : "--token", value: flag ?? env.BROKER_TOKEN ?? "" },
    file: { name: "BROKER_TOKEN_FILE", path: flag === undefined ? (env.BROKER_TOKEN_FILE ?? "") : "" },
  });
  if (given !== undefined) return given;
  if (!loopbackHosts.has(hostOf(brokerUrl))) return undefined;
  const dev = readDevToken("brokerAdmin", env);
  return dev === undefined ? undefined : () => dev.token;
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return "";
  }
}
