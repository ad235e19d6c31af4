import { describe, expect, test } from "bun:test";
import {
  type CommandSpec,
  commandHelp,
  type FlagSpec,
  parseCommandLine,
  UsageError,
  usageLine,
} from "../../../services/broker-cli/command-line.ts";

const globalFlags: Record<string, FlagSpec> = {
  broker: { kind: "text", value: "URL", alias: "bootstrap-server", help: "the broker" },
  output: { kind: "text", value: "FORMAT", choices: ["table", "json"], help: "table or json" },
};
const list: CommandSpec = { words: ["topics", "list"], operands: [], flags: {}, summary: "list" };
const describeTopic: CommandSpec = { words: ["topics", "describe"], operands: ["topic"], flags: {}, summary: "d" };
const tail: CommandSpec = {
  words: ["tail"],
  operands: ["topic"],
  flags: {
    "from-beginning": { kind: "switch", help: "from the start" },
    max: { kind: "integer", value: "N", alias: "max-messages", help: "stop after N" },
  },
  summary: "tail",
};
const commands = [list, describeTopic, tail];

function parse(...argv: string[]) {
  const line = parseCommandLine(argv, commands, globalFlags);
  if (line.kind !== "command") throw new Error("expected a command");
  return line.command;
}

function refusal(...argv: string[]): UsageError {
  try {
    parseCommandLine(argv, commands, globalFlags);
  } catch (error) {
    if (error instanceof UsageError) return error;
    throw error;
  }
  throw new Error(`${argv.join(" ")} was accepted`);
}

describe("parseCommandLine", () => {
  test("finds the command, its operands and flags in any order, by name or alias, with = or a space", () => {
    const parsed = parse("--bootstrap-server", "127.0.0.1:9092", "tail", "telemetry", "--max-messages=5");
    expect(parsed.spec).toBe(tail);
    expect(parsed.operands).toEqual({ topic: "telemetry" });
    expect([...parsed.flags]).toEqual([
      ["broker", "127.0.0.1:9092"],
      ["max", 5],
    ]);
    expect([...parse("tail", "--from-beginning", "t", "--output", "json").flags]).toEqual([
      ["from-beginning", true],
      ["output", "json"],
    ]);
    // A leading "--" (as `bun run broker -- …` may pass it) is nothing; a later one ends the flags.
    expect(parse("--", "topics", "describe", "--", "--odd-name").operands).toEqual({ topic: "--odd-name" });
  });

  test("refuses what it does not know, with a message and the command it concerns", () => {
    const typo = refusal("tail", "telemetry", "--max-mesages", "5");
    expect(typo.message).toBe("unknown option --max-mesages; did you mean --max-messages?");
    expect(typo.command).toBe(tail);
    expect(refusal("topics", "list", "--max", "3").message).toBe("topics list takes no --max");
    expect(refusal("topics", "describe").message).toBe("topics describe: missing <topic>");
    expect(refusal("topics", "describe", "a", "b").message).toBe('topics describe: unexpected argument "b"');
    expect(refusal("tail", "t", "--max").message).toBe("--max needs a value (N)");
    expect(refusal("tail", "t", "--max", "-5").message).toBe('--max must be a non-negative integer, got "-5"');
    expect(refusal("tail", "t", "--max", "1e3").message).toBe('--max must be a non-negative integer, got "1e3"');
    expect(refusal("tail", "t", "--max", "2", "--max-messages", "3").message).toBe("--max given twice");
    expect(refusal("tail", "t", "--from-beginning=yes").message).toBe("--from-beginning takes no value");
    expect(refusal("topics", "list", "--output", "yaml").message).toBe(
      '--output must be one of table, json, got "yaml"',
    );
    expect(refusal("frobnicate").message).toBe('unknown command "frobnicate"');
    expect(refusal("topics").message).toBe("topics: which action? list, describe");
    expect(refusal("topics", "erase", "x").message).toBe('topics: unknown action "erase"; use list, describe');
    expect(refusal().message).toBe("no command given");
    expect(refusal("tail", "t", "-x").message).toBe("unknown option -x");
  });

  test("--help or -h anywhere asks for help, of the command when one is named", () => {
    expect(parseCommandLine(["tail", "--help"], commands, globalFlags)).toEqual({ kind: "help", command: tail });
    expect(parseCommandLine(["-h"], commands, globalFlags)).toEqual({ kind: "help", command: undefined });
  });

  test("the help is rendered from the same table", () => {
    expect(usageLine(tail)).toBe("tail <topic> [--from-beginning] [--max N]");
    const help = commandHelp(tail, globalFlags);
    expect(help).toContain("usage: bun run broker -- tail <topic> [--from-beginning] [--max N]");
    expect(help).toMatch(/--max N, --max-messages +stop after N/);
    expect(help).toMatch(/--broker URL, --bootstrap-server/);
  });

  test("one flag name means one kind of value in every command", () => {
    const clash: CommandSpec = { ...list, words: ["x"], flags: { max: { kind: "text", help: "" } } };
    expect(() => parseCommandLine(["x"], [tail, clash], globalFlags)).toThrow(/--max declared twice/);
  });
});
