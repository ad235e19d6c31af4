import { Admin } from "../../src/broker-client/admin.ts";
import { BrokerClientError } from "../../src/broker-client/http-client.ts";
import { cliToken } from "./cli-token.ts";
import { runGroupsCommand } from "./groups-command.ts";
import { parseArgs } from "./parse-args.ts";
import { runProduceCommand } from "./produce-command.ts";
import { runTailCommand } from "./tail-command.ts";
import { runTokenCommand } from "./token-command.ts";
import { runTopicsCommand } from "./topics-command.ts";

/**
 * The broker's command-line tool, in the spirit of Kafka's:
 *   bun run broker -- topics list | create <t> [--partitions N] | describe <t>
 *   bun run broker -- groups list | describe <g> | delete <g>
 *   bun run broker -- tail <topic> [--from-beginning] [--partition N] [--max N]
 *   bun run broker -- produce <topic>            (stdin lines: key<TAB>value)
 *   bun run broker -- token new [--groups a,b]   (a token and its list entry)
 * The broker is --broker URL, else BROKER_URL, else http://127.0.0.1:9092; the token
 * as cli-token.ts finds it.
 */
const usage = `usage: bun run broker -- [--broker URL] [--token TOKEN] <command>
  topics list
  topics create <topic> [--partitions N]
  topics describe <topic>
  groups list
  groups describe <group>
  groups delete <group>      (a group without members)
  tail <topic> [--from-beginning] [--partition N] [--max N]
  produce <topic>            reads lines "key<TAB>value" from stdin
  token new [--groups a,b]   prints a new token and the entry a broker lists for it
token: --token, else BROKER_TOKEN or BROKER_TOKEN_FILE, else (broker on this host) .data/secrets/broker-admin-token`;

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  if (args.positional.length === 0 || args.flags.has("help")) {
    process.stdout.write(`${usage}\n`);
    return args.positional.length === 0 ? 2 : 0;
  }
  const [command, ...rest] = args.positional;
  const out = (line: string) => process.stdout.write(`${line}\n`);
  if (command === "token") return runTokenCommand(rest, args, out);
  const brokerUrl = args.options.get("broker") || process.env.BROKER_URL || "http://127.0.0.1:9092";
  const connection = { brokerUrl, token: cliToken(args, brokerUrl) };
  const admin = new Admin(connection);
  if (command === "topics") return await runTopicsCommand(admin, rest, args, out);
  if (command === "groups") return await runGroupsCommand(admin, rest, out);
  if (command === "tail") return await runTailCommand(connection, rest, args, out);
  if (command === "produce") return await runProduceCommand(connection, rest, out);
  process.stderr.write(`unknown command ${command}\n${usage}\n`);
  return 2;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  const message = error instanceof BrokerClientError || error instanceof Error ? error.message : String(error);
  process.stderr.write(`error: ${message}\n`);
  process.exitCode = 1;
}
