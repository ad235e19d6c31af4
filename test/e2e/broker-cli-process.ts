import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testBrokerToken } from "../support/test-tokens.ts";

const cliMain = new URL("../../services/broker-cli/main.ts", import.meta.url).pathname;

/** No dev stack's secrets where the CLI looks for them, unless a test puts them there. */
export const noDevData = mkdtempSync(join(tmpdir(), "cli-dev-data-"));
process.once("exit", () => rmSync(noDevData, { recursive: true, force: true }));

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `bun services/broker-cli/main.ts <args>` as its own process, as a user does with
 * `bun run broker -- …`: `--broker <url>` first when `brokerUrl` is given, the test
 * token in BROKER_TOKEN unless `env` says otherwise.
 */
export async function runCli(
  brokerUrl: string | undefined,
  args: readonly string[],
  options: { stdin?: string; env?: Record<string, string> } = {},
): Promise<CliRun> {
  const env = options.env ?? { BROKER_TOKEN: testBrokerToken };
  const proc = Bun.spawn(["bun", cliMain, ...(brokerUrl === undefined ? [] : ["--broker", brokerUrl]), ...args], {
    stdin: options.stdin === undefined ? "ignore" : new TextEncoder().encode(options.stdin),
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, BROKER_URL: "", BROKER_TOKEN: "", BROKER_TOKEN_FILE: "", DEV_DATA_DIR: noDevData, ...env },
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, stdout, stderr };
}
