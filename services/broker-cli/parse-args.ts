export interface ParsedArgs {
  positional: string[];
  /** --name value */
  options: Map<string, string>;
  /** --name without a value */
  flags: Set<string>;
}

const valueOptions = new Set(["broker", "token", "partitions", "partition", "max", "group", "groups"]);

/** Splits argv into positionals, `--option value` pairs (known names) and `--flag`s. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const parsed: ParsedArgs = { positional: [], options: new Map(), flags: new Set() };
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index]!;
    if (arg === "--") continue;
    if (!arg.startsWith("--")) {
      parsed.positional.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split("=", 2) as [string, string | undefined];
    if (inline !== undefined) parsed.options.set(name, inline);
    else if (valueOptions.has(name) && index + 1 < argv.length) parsed.options.set(name, argv[++index]!);
    else parsed.flags.add(name);
  }
  return parsed;
}

export function integerOption(args: ParsedArgs, name: string): number | undefined {
  const text = args.options.get(name);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0)
    throw new Error(`--${name} must be a non-negative integer, got ${text}`);
  return value;
}
