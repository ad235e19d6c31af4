import type { Admin } from "../../src/broker-client/admin.ts";
import type { BrokerConnection } from "../../src/broker-client/connection.ts";
import type { CommandSpec, ParsedCommand } from "./command-line.ts";

/** What a command runs with: its parsed line, the broker, where to print. */
export interface CliContext {
  command: ParsedCommand;
  admin: Admin;
  connection: BrokerConnection;
  out: (line: string) => void;
  /** `--output json`: one JSON document instead of text (tail: one JSON object per record and line). */
  json: boolean;
}

/** A command of the table: its grammar and what it does; resolves to the exit code. */
export interface Command extends CommandSpec {
  /** Needs no broker (`token new`): no token is looked for. */
  offline?: boolean;
  run(context: CliContext): Promise<number> | number;
}

/** The output flag every command takes. */
export const outputFlag = {
  kind: "text",
  value: "FORMAT",
  choices: ["table", "json"],
  help: "table (default) or json: one JSON document, the broker's answer as its Swagger documents it",
} as const;

export function operand(context: CliContext, name: string): string {
  const value = context.command.operands[name];
  if (value === undefined)
    throw new Error(`operand <${name}> is not declared by ${context.command.spec.words.join(" ")}`);
  return value;
}

export function integerFlag(context: CliContext, name: string): number | undefined {
  const value = context.command.flags.get(name);
  if (value !== undefined && typeof value !== "number") throw new Error(`--${name} is not an integer flag`);
  return value;
}

export function textFlag(context: CliContext, name: string): string | undefined {
  const value = context.command.flags.get(name);
  if (value !== undefined && typeof value !== "string") throw new Error(`--${name} is not a text flag`);
  return value;
}

export function switchFlag(context: CliContext, name: string): boolean {
  return context.command.flags.get(name) === true;
}

export function printJson(context: CliContext, value: unknown): void {
  context.out(JSON.stringify(value, null, 2));
}
