/**
 * What Grafana and the grafana-clickhouse-datasource plugin do to a dashboard's SQL
 * before ClickHouse sees it, in their order:
 *
 * 1. The plugin's `$__conditionalAll(condition, $var)`: `1=1` when the variable is "All"
 *    (or empty), else the condition (src/data/CHDatasource.ts, applyConditionalAll).
 * 2. Grafana's template variables: `${var:singlequote}` quotes each value (`'a','b'`,
 *    quotes escaped with a backslash); a bare `$var`/`${var}` of several values is joined
 *    by the plugin's own format (`'a','b'`), of one value is the value as is.
 * 3. The plugin backend's macros (pkg/macros/macros.go): `$__timeFilter(col)`,
 *    `$__timeFilter_ms(col)`, `$__fromTime`, `$__toTime`, `$__fromTime_ms`, `$__toTime_ms`,
 *    `$__timeInterval(col)`, `$__timeInterval_ms(col)`, `$__interval_s`, `$__dateFilter(col)`.
 *
 * A variable left at "All" outside a `$__conditionalAll` would be expanded by Grafana into
 * every value; the dashboard never does that, so here it is an error.
 */

/** A variable's selection: "All", or the values chosen. */
export type Selection = "all" | string[];

export interface GrafanaContext {
  variables: Record<string, Selection>;
  /** Constants (the database). */
  constants: Record<string, string>;
  fromMs: number;
  toMs: number;
  /** The panel's interval ($__interval), in ms. */
  intervalMs: number;
}

export function interpolate(sql: string, context: GrafanaContext): string {
  const conditioned = applyConditionalAll(sql, context.variables);
  const templated = replaceVariables(conditioned, context);
  const expanded = applyMacros(templated, context);
  const leftover = /\$__\w+|\$\{?\w+/.exec(expanded);
  if (leftover !== null) throw new Error(`unexpanded ${leftover[0]} in:\n${expanded}`);
  return expanded;
}

function applyConditionalAll(sql: string, variables: Record<string, Selection>): string {
  const macro = "$__conditionalAll(";
  let text = sql;
  for (let guard = 0; guard < 1_000; guard += 1) {
    const at = text.lastIndexOf(macro);
    if (at < 0) return text;
    const args = macroArgs(text, at + macro.length - 1);
    if (args.length !== 2) throw new Error(`$__conditionalAll needs 2 arguments at ${text.slice(at, at + 80)}`);
    const [condition, variable] = args as [string, string];
    const name = /\$\{?(\w+)/.exec(variable.trim())?.[1] ?? "";
    const selection = variables[name];
    if (selection === undefined) throw new Error(`$__conditionalAll names unknown variable ${variable}`);
    const replacement = selection === "all" || selection.length === 0 ? "1=1" : condition;
    text = text.replace(`${macro}${condition},${variable})`, replacement);
  }
  throw new Error("too many $__conditionalAll");
}

/** Arguments of the macro whose "(" is at `open`, split at top-level commas. */
function macroArgs(text: string, open: number): string[] {
  const args: string[] = [];
  let depth = 0;
  let start = open + 1;
  for (let index = open; index < text.length; index += 1) {
    const char = text[index];
    if (char === "(") depth += 1;
    else if (char === ")") depth -= 1;
    if (char === "," && depth === 1) {
      args.push(text.slice(start, index));
      start = index + 1;
    }
    if (depth === 0) {
      args.push(text.slice(start, index));
      return args;
    }
  }
  return [];
}

function replaceVariables(sql: string, context: GrafanaContext): string {
  return sql.replace(/\$\{(\w+)(?::(\w+))?\}|\$(?!__)(\w+)/g, (whole, braced, format, bare) => {
    const name = (braced ?? bare) as string;
    const constant = context.constants[name];
    if (constant !== undefined) return constant;
    const selection = context.variables[name];
    if (selection === undefined) return whole;
    if (selection === "all") throw new Error(`variable ${name} at "All" used outside $__conditionalAll`);
    if (format === "singlequote") return selection.map((value) => `'${value.replaceAll("'", "\\'")}'`).join(",");
    if (format !== undefined) throw new Error(`format ${format} of ${name} not modelled`);
    return selection.length === 1 ? (selection[0] as string) : `'${selection.join("','")}'`;
  });
}

function applyMacros(sql: string, context: GrafanaContext): string {
  const fromS = Math.floor(context.fromMs / 1000);
  const toS = Math.floor(context.toMs / 1000);
  const intervalS = Math.max(Math.floor(context.intervalMs / 1000), 1);
  const dateTime = (seconds: number) => `toDateTime(${seconds})`;
  const dateTime64 = (ms: number) => `fromUnixTimestamp64Milli(${ms})`;
  const date = (ms: number) => `toDate('${new Date(ms).toISOString().slice(0, 10)}')`;
  return sql
    .replace(/\$__timeFilter_ms\(([^)]+)\)/g, (_, column: string) => {
      const c = column.trim();
      return `${c} >= ${dateTime64(context.fromMs)} AND ${c} <= ${dateTime64(context.toMs)}`;
    })
    .replace(/\$__timeFilter\(([^)]+)\)/g, (_, column: string) => {
      const c = column.trim();
      return `${c} >= ${dateTime(fromS)} AND ${c} <= ${dateTime(toS)}`;
    })
    .replace(/\$__dateFilter\(([^)]+)\)/g, (_, column: string) => {
      const c = column.trim();
      return `${c} >= ${date(context.fromMs)} AND ${c} <= ${date(context.toMs)}`;
    })
    .replace(/\$__timeInterval_ms\(([^)]+)\)/g, (_, column: string) => {
      const ms = Math.max(context.intervalMs, 1);
      return `toStartOfInterval(toDateTime64(${column.trim()}, 3), INTERVAL ${ms} millisecond)`;
    })
    .replace(/\$__timeInterval\(([^)]+)\)/g, (_, column: string) => {
      return `toStartOfInterval(toDateTime(${column.trim()}), INTERVAL ${intervalS} second)`;
    })
    .replaceAll("$__fromTime_ms", dateTime64(context.fromMs))
    .replaceAll("$__toTime_ms", dateTime64(context.toMs))
    .replaceAll("$__fromTime", dateTime(fromS))
    .replaceAll("$__toTime", dateTime(toS))
    .replaceAll("$__interval_s", String(intervalS));
}
