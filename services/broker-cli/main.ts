import { Admin } from "../../src/broker-client/admin.ts";
import { BrokerClientError } from "../../src/broker-client/http-client.ts";
import type { CliContext, Command } from "./cli-context.ts";
import { outputFlag } from "./cli-context.ts";
import { cliToken } from "./cli-token.ts";
import {
  type CommandSpec,
  commandHelp,
  type FlagSpec,
  parseCommandLine,
  UsageError,
  usageLine,
} from "./command-line.ts";
import { groupsCommands } from "./groups-command.ts";
import { produceCommand } from "./produce-command.ts";
import { resetOffsetsCommand } from "./reset-offsets-command.ts";
import { tailCommand } from "./tail-command.ts";
import { tokenCommand } from "./token-command.ts";
import { topicsCommands } from "./topics-command.ts";

/**
 * The broker's command-line tool, in the spirit of Kafka's (`bun run broker -- …`).
 * The commands are a table (command-line.ts parses against it and renders the help
 * from it); exit codes: 0 done, 1 the broker or the work failed, 2 a usage mistake.
 */
const commands: readonly Command[] = [
  ...topicsCommands,
  ...groupsCommands,
  resetOffsetsCommand,
  tailCommand,
  produceCommand,
  tokenCommand,
];

const defaultBrokerUrl = "http://127.0.0.1:9092";

const globalFlags: Readonly<Record<string, FlagSpec>> = {
  broker: {
    kind: "text",
    value: "URL",
    alias: "bootstrap-server",
    help: `the broker (default: BROKER_URL, else ${defaultBrokerUrl}); host:port means http://host:port`,
  },
  token: {
    kind: "text",
    value: "TOKEN",
    help: "bearer token (default: BROKER_TOKEN, BROKER_TOKEN_FILE, else the dev stack's admin token)",
  },
  output: outputFlag,
};

function usage(): string {
  const lines = commands.map((command) => `  ${usageLine(command).padEnd(72)}`.trimEnd());
  const summaries = commands.map((command) => `  ${command.words.join(" ").padEnd(22)} ${command.summary}`);
  return [
    "usage: bun run broker -- [--broker URL | --bootstrap-server HOST:PORT] [--token TOKEN] [--output table|json] <command>",
    ...lines,
    "",
    ...summaries,
    "",
    "token: --token, else BROKER_TOKEN or BROKER_TOKEN_FILE, else (broker on this host) .data/secrets/broker-admin-token",
    "`bun run broker -- <command> --help` explains one command. Exit codes: 0 done, 1 failed, 2 usage mistake.",
  ].join("\n");
}

async function main(argv: readonly string[]): Promise<number> {
  const line = parseCommandLine(argv, commands, globalFlags);
  if (line.kind === "help") {
    process.stdout.write(`${line.command === undefined ? usage() : commandHelp(line.command, globalFlags)}\n`);
    return 0;
  }
  const { command } = line;
  const run = commands.find((candidate) => candidate === command.spec);
  if (run === undefined) throw new Error(`no runner for ${command.spec.words.join(" ")}`);
  const brokerUrl = brokerUrlOf(command.flags.get("broker"));
  const tokenFlag = command.flags.get("token");
  // A command that needs no broker does not look for a token either (nor fails on a bad one).
  const token = run.offline ? undefined : cliToken(typeof tokenFlag === "string" ? tokenFlag : undefined, brokerUrl);
  const connection = { brokerUrl, token };
  const context: CliContext = {
    command,
    admin: new Admin(connection),
    connection,
    out: (text) => process.stdout.write(`${text}\n`),
    json: command.flags.get("output") === "json",
  };
  return await run.run(context);
}

/** `--broker`/`--bootstrap-server`, else BROKER_URL, else the default; a bare host:port (Kafka's form) is http. */
function brokerUrlOf(flag: unknown): string {
  const given = (typeof flag === "string" ? flag : "") || process.env.BROKER_URL || defaultBrokerUrl;
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(given) ? given : `http://${given}`;
}

function reportUsage(error: UsageError): void {
  const spec: CommandSpec | undefined = error.command;
  const hint =
    spec === undefined
      ? usage()
      : `usage: bun run broker -- ${usageLine(spec)}\n(bun run broker -- ${spec.words.join(" ")} --help explains it)`;
  process.stderr.write(`error: ${error.message}\n${hint}\n`);
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError) {
    reportUsage(error);
    process.exitCode = 2;
  } else {
    const message = error instanceof BrokerClientError || error instanceof Error ? error.message : String(error);
    process.stderr.write(`error: ${message}\n`);
    process.exitCode = 1;
  }
}
