/**
 * The CLI's grammar: commands as data (words, operands, flags), one parser for all of
 * them, and the help text rendered from the same table, so a flag that exists is in
 * the help and a flag that is not is refused. Usage errors exit 2 (as getopt tools
 * do); failures of the broker or of the work exit 1.
 */

/** A mistake in the command line: reported with the command's usage, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
  constructor(
    message: string,
    /** The command it concerns, when one was recognised (its usage is printed). */
    readonly command?: CommandSpec,
  ) {
    super(message);
  }
}

export interface FlagSpec {
  /** `integer`: a non-negative integer; `text`: any value; `switch`: no value. */
  kind: "integer" | "text" | "switch";
  /** Placeholder of the value in the help (`N`, `URL`). */
  value?: string;
  /** Allowed values of a text flag. */
  choices?: readonly string[];
  /** Another name for the same flag (`--max-messages` for `--max`, as Kafka's tools spell it). */
  alias?: string;
  help: string;
}

export type FlagValue = string | number | true;

export interface ParsedCommand {
  spec: CommandSpec;
  /** Operand name → value, every operand present. */
  operands: Readonly<Record<string, string>>;
  /** Canonical flag name → value; switches are `true`. */
  flags: ReadonlyMap<string, FlagValue>;
}

export interface CommandSpec {
  /** The words naming it: `["groups", "reset-offsets"]`. */
  words: readonly string[];
  /** Its positional arguments, by name, all required. */
  operands: readonly string[];
  /** The flags it takes beside the global ones. */
  flags: Readonly<Record<string, FlagSpec>>;
  summary: string;
  /** The flags part of the usage line, where it says more than the flags (required ones, a choice of one). */
  synopsis?: string;
  /** More lines of help under the usage line. */
  notes?: readonly string[];
}

/** What the parser found: a command, or a request for help (of a command when one was named). */
export type CommandLine =
  | { kind: "command"; command: ParsedCommand }
  | { kind: "help"; command: CommandSpec | undefined };

/** Arguments a command line may have: bounds a loop over user input. */
export const argumentsMax = 1_000;

interface Token {
  /** `raw`: as typed (`-x`, `--name`), for messages. */
  flag?: { name: string; inline: string | undefined; raw: string };
  word?: string;
}

/**
 * Parses argv against the commands and the global flags: `--name value`,
 * `--name=value`, `--switch`, operands anywhere, `--` ends the flags. Throws
 * UsageError for an unknown command or flag, a flag the command does not take, a
 * missing or extra operand, a missing or malformed value, a repeated flag.
 */
export function parseCommandLine(
  argv: readonly string[],
  commands: readonly CommandSpec[],
  globalFlags: Readonly<Record<string, FlagSpec>>,
): CommandLine {
  if (argv.length > argumentsMax) throw new UsageError(`${argv.length} arguments; at most ${argumentsMax}`);
  const known = flagsByName(commands, globalFlags);
  const words: string[] = [];
  const given: { name: string; spec: FlagSpec; value: string | undefined }[] = [];
  let help = false;
  const tokens = tokenize(argv);
  for (let index = 0; index < tokens.length; index += 1) {
    const token = tokens[index] as Token;
    if (token.word !== undefined) {
      words.push(token.word);
      continue;
    }
    const flag = token.flag as NonNullable<Token["flag"]>;
    if (flag.name === "help" || flag.name === "h") {
      help = true;
      continue;
    }
    const spec = known.get(flag.name);
    if (spec === undefined) {
      throw new UsageError(unknownFlagMessage(flag.raw, flag.name, known), matchCommand(words, commands));
    }
    let value = flag.inline;
    if (spec.kind !== "switch" && value === undefined) {
      const next = tokens[index + 1];
      if (next?.word === undefined) throw new UsageError(`--${flag.name} needs a value (${spec.value ?? "text"})`);
      value = next.word;
      index += 1;
    }
    given.push({ name: flag.name, spec, value });
  }
  const spec = matchCommand(words, commands);
  if (help) return { kind: "help", command: spec };
  if (spec === undefined) throw new UsageError(unknownCommandMessage(words, commands));
  const operands = operandsOf(spec, words.slice(spec.words.length));
  return { kind: "command", command: { spec, operands, flags: flagValues(spec, given, globalFlags) } };
}

function tokenize(argv: readonly string[]): Token[] {
  const tokens: Token[] = [];
  let flagsEnded = false;
  for (const arg of argv) {
    // "-" (stdin, by convention) and "-5" (a bad number, reported as one) are words.
    if (flagsEnded || !arg.startsWith("-") || arg === "-" || /^-[0-9]/.test(arg)) tokens.push({ word: arg });
    // A leading "--" is what `bun run broker -- …` may pass on; a later one ends the flags.
    else if (arg === "--") flagsEnded = tokens.length > 0;
    else if (arg.startsWith("--")) {
      const equals = arg.indexOf("=");
      const name = equals < 0 ? arg.slice(2) : arg.slice(2, equals);
      tokens.push({ flag: { name, inline: equals < 0 ? undefined : arg.slice(equals + 1), raw: `--${name}` } });
    } else tokens.push({ flag: { name: arg.slice(1), inline: undefined, raw: arg } });
  }
  return tokens;
}

/** Every flag name and alias any command takes; one name means one thing everywhere. */
function flagsByName(
  commands: readonly CommandSpec[],
  globalFlags: Readonly<Record<string, FlagSpec>>,
): Map<string, FlagSpec> {
  const known = new Map<string, FlagSpec>();
  const add = (name: string, spec: FlagSpec) => {
    const before = known.get(name);
    if (before !== undefined && before.kind !== spec.kind)
      throw new Error(`flag --${name} declared twice, differently`);
    known.set(name, spec);
  };
  for (const table of [globalFlags, ...commands.map((command) => command.flags)]) {
    for (const [name, spec] of Object.entries(table)) {
      add(name, spec);
      if (spec.alias !== undefined) add(spec.alias, spec);
    }
  }
  return known;
}

/** The command whose words start `words`, the longest such. */
function matchCommand(words: readonly string[], commands: readonly CommandSpec[]): CommandSpec | undefined {
  let best: CommandSpec | undefined;
  for (const command of commands) {
    const matches = command.words.every((word, index) => words[index] === word);
    if (matches && command.words.length > (best?.words.length ?? 0)) best = command;
  }
  return best;
}

function operandsOf(spec: CommandSpec, values: readonly string[]): Record<string, string> {
  const missing = spec.operands.slice(values.length);
  if (missing.length > 0) throw new UsageError(`${spec.words.join(" ")}: missing <${missing.join("> <")}>`, spec);
  const extra = values.slice(spec.operands.length);
  if (extra.length > 0) throw new UsageError(`${spec.words.join(" ")}: unexpected argument "${extra[0]}"`, spec);
  return Object.fromEntries(spec.operands.map((name, index) => [name, values[index] as string]));
}

function flagValues(
  spec: CommandSpec,
  given: readonly { name: string; spec: FlagSpec; value: string | undefined }[],
  globalFlags: Readonly<Record<string, FlagSpec>>,
): Map<string, FlagValue> {
  const allowed = new Map<string, string>();
  for (const table of [globalFlags, spec.flags]) {
    for (const [name, flag] of Object.entries(table)) {
      allowed.set(name, name);
      if (flag.alias !== undefined) allowed.set(flag.alias, name);
    }
  }
  const values = new Map<string, FlagValue>();
  for (const entry of given) {
    const canonical = allowed.get(entry.name);
    const command = spec.words.join(" ");
    if (canonical === undefined) {
      const near = closest(entry.name, [...allowed.keys()]);
      const hint = near === undefined ? "" : `; did you mean --${near}?`;
      throw new UsageError(`${command} takes no --${entry.name}${hint}`, spec);
    }
    if (values.has(canonical)) throw new UsageError(`--${canonical} given twice`, spec);
    values.set(canonical, flagValue(entry.name, entry.spec, entry.value, spec));
  }
  return values;
}

function flagValue(name: string, flag: FlagSpec, text: string | undefined, spec: CommandSpec): FlagValue {
  if (flag.kind === "switch") {
    if (text !== undefined) throw new UsageError(`--${name} takes no value`, spec);
    return true;
  }
  const value = text ?? "";
  if (flag.kind === "integer") {
    const number = /^[0-9]{1,16}$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(number))
      throw new UsageError(`--${name} must be a non-negative integer, got "${value}"`, spec);
    return number;
  }
  if (flag.choices !== undefined && !flag.choices.includes(value))
    throw new UsageError(`--${name} must be one of ${flag.choices.join(", ")}, got "${value}"`, spec);
  if (value === "") throw new UsageError(`--${name} needs a value (${flag.value ?? "text"})`, spec);
  return value;
}

function unknownFlagMessage(raw: string, name: string, known: ReadonlyMap<string, FlagSpec>): string {
  const near = closest(name, [...known.keys(), "help"]);
  return `unknown option ${raw}${near === undefined ? "" : `; did you mean --${near}?`}`;
}

function unknownCommandMessage(words: readonly string[], commands: readonly CommandSpec[]): string {
  if (words.length === 0) return "no command given";
  const first = words[0] as string;
  const families = [...new Set(commands.map((command) => command.words[0] as string))];
  if (!families.includes(first)) return `unknown command "${first}"`;
  const actions = commands.filter((command) => command.words[0] === first).map((command) => command.words[1]);
  const second = words[1];
  return second === undefined
    ? `${first}: which action? ${actions.join(", ")}`
    : `${first}: unknown action "${second}"; use ${actions.join(", ")}`;
}

/** The candidate within two edits of `name`, if one is (a typo's likely meaning). */
function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(name, candidate);
    if (distance <= Math.min(2, Math.floor(name.length / 3)) && (best === undefined || distance < best.distance))
      best = { candidate, distance };
  }
  return best?.candidate;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] as number;
}

/** `groups reset-offsets <group> --topic T [--partition N]`: a command's usage line. */
export function usageLine(spec: CommandSpec): string {
  const operands = spec.operands.map((name) => `<${name}>`);
  const flags =
    spec.synopsis === undefined
      ? Object.entries(spec.flags).map(([name, flag]) => `[--${name}${flag.value ? ` ${flag.value}` : ""}]`)
      : [spec.synopsis];
  return [...spec.words, ...operands, ...flags].join(" ");
}

/** The help of one command: usage, summary, notes and each flag. */
export function commandHelp(spec: CommandSpec, globalFlags: Readonly<Record<string, FlagSpec>>): string {
  const lines = [`usage: bun run broker -- ${usageLine(spec)}`, "", `  ${spec.summary}`];
  for (const note of spec.notes ?? []) lines.push(`  ${note}`);
  lines.push("", ...flagLines(spec.flags), ...flagLines(globalFlags));
  return lines.join("\n");
}

function flagLines(flags: Readonly<Record<string, FlagSpec>>): string[] {
  return Object.entries(flags).map(([name, flag]) => {
    const names = [`--${name}${flag.value ? ` ${flag.value}` : ""}`];
    if (flag.alias !== undefined) names.push(`--${flag.alias}`);
    const label = names.join(", ");
    return label.length < 30 ? `  ${label.padEnd(30)} ${flag.help}` : `  ${label}\n  ${"".padEnd(30)} ${flag.help}`;
  });
}
