import { Admin } from "../../src/broker-client/admin.ts";
import { BrokerClientError } from "../../src/broker-client/http-client.ts";
import { runGroupsCommand } from "./groups-command.ts";
import { parseArgs } from "./parse-args.ts";
import { runProduceCommand } from "./produce-command.ts";
import { runTailCommand } from "./tail-command.ts";
import { runTopicsCommand } from "./topics-command.ts";

/**
 * The broker's command-line tool, in the spirit of Kafka's:
 *   bun run broker -- topics list | create <t> [--partitions N] | describe <t>
 *   bun run broker -- groups list | describe <g>
 *   bun run broker -- tail <topic> [--from-beginning] [--partition N] [--max N]
 *   bun run broker -- produce <topic>            (stdin lines: key<TAB>value)
 * The broker is --broker URL, else BROKER_URL, else http://127.0.0.1:9092.
 */
const usage = `usage: bun run broker -- [--broker URL] <command>
  topics list
  topics create <topic> [--partitions N]
  topics describe <topic>
  groups list
  groups describe <group>
  tail <topic> [--from-beginning] [--partition N] [--max N]
  produce <topic>            reads lines "key<TAB>value" from stdin`;

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  if (args.positional.length === 0 || args.flags.has("help")) {
    process.stdout.write(`${usage}\n`);
    return args.positional.length === 0 ? 2 : 0;
  }
  const brokerUrl = args.options.get("broker") ?? process.env.BROKER_URL ?? "http://127.0.0.1:9092";
  const admin = new Admin({ brokerUrl });
  const [command, ...rest] = args.positional;
  const out = (line: string) => process.stdout.write(`${line}\n`);
  if (command === "topics") return await runTopicsCommand(admin, rest, args, out);
  if (command === "groups") return await runGroupsCommand(admin, rest, out);
  if (command === "tail") return await runTailCommand(brokerUrl, rest, args, out);
  if (command === "produce") return await runProduceCommand(brokerUrl, rest, out);
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
