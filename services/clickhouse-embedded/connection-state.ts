import type { Engine } from "./engine.ts";

/** The per-request context ClickHouse's HTTP handler builds: current database and settings. */
export interface RequestContext {
  database: string;
  /** Setting name → value as text, exactly as it came in the URL. */
  settings: ReadonlyMap<string, string>;
}

export const defaultDatabase = "default";
/** Not a valid database name, so the next request always issues its USE. */
const unknownDatabase = "\u0000unknown";

const useStatementPattern = /^\s*USE\s/i;
const setStatementPattern = /^\s*SET\s+([\s\S]*)$/i;
const assignedNamePattern = /(?:^|,)\s*([A-Za-z_][A-Za-z0-9_]*)\s*=/g;

const settingNamePattern = /^[A-Za-z_][A-Za-z0-9_]*$/;
const plainNumberPattern = /^-?\d+(\.\d+)?$/;

/** A setting value as a SQL literal; text is quoted so it can never end the statement. */
export function settingLiteral(value: string): string {
  if (plainNumberPattern.test(value)) return value;
  return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

/** A database name as a quoted identifier. */
export function quoteIdentifier(name: string): string {
  return `\`${name.replaceAll("\\", "\\\\").replaceAll("`", "\\`")}\``;
}

export function isSettingName(name: string): boolean {
  return settingNamePattern.test(name);
}

/**
 * A chdb connection keeps `SET` and `USE` across calls, unlike an HTTP request whose
 * settings last for that request only. This tracks what the connection currently has
 * and moves it to what the next request asks for with one `SET ...; USE ...` call,
 * resetting settings the previous request set (`SET x = DEFAULT`), so nothing leaks.
 */
export class ConnectionState {
  private database = defaultDatabase;
  private settings = new Map<string, string>();
  /** Settings a request's own SET statement changed; reset before the next request. */
  private touchedSettings = new Set<string>();

  constructor(private readonly engine: Engine) {}

  /**
   * Over HTTP, a `SET` or `USE` statement lasts for its own request only; on the chdb
   * connection it would stick. Call after running `sql`: what it changed is undone
   * before the next request.
   */
  noteStatement(sql: string): void {
    if (useStatementPattern.test(sql)) this.database = unknownDatabase;
    const set = setStatementPattern.exec(sql);
    if (set === null) return;
    for (const match of (set[1] ?? "").matchAll(assignedNamePattern)) {
      if (match[1] !== undefined) this.touchedSettings.add(match[1]);
    }
  }

  /** True when apply(desired) would send nothing: the usual case, a client repeating its database and settings. */
  isCurrent(desired: RequestContext): boolean {
    return this.touchedSettings.size === 0 && this.plan(desired).length === 0;
  }

  async apply(desired: RequestContext): Promise<void> {
    await this.resetTouched();
    const statements = this.plan(desired);
    if (statements.length === 0) return;
    try {
      await this.engine.query({ sql: statements.join("; "), format: "TabSeparated" });
      this.database = desired.database;
      this.settings = new Map(desired.settings);
    } catch (error) {
      await this.resetAfterFailure(desired);
      throw error;
    }
  }

  private plan(desired: RequestContext): string[] {
    const assignments: string[] = [];
    for (const name of this.settings.keys()) {
      if (!desired.settings.has(name)) assignments.push(`${name} = DEFAULT`);
    }
    for (const [name, value] of desired.settings) {
      if (!isSettingName(name)) throw new Error(`setting name ${JSON.stringify(name)} reached the engine unchecked`);
      if (this.settings.get(name) !== value) assignments.push(`${name} = ${settingLiteral(value)}`);
    }
    const statements = assignments.length > 0 ? [`SET ${assignments.join(", ")}`] : [];
    if (desired.database !== this.database) statements.push(`USE ${quoteIdentifier(desired.database)}`);
    return statements;
  }

  /** One statement each, errors ignored: a name parsed out of a string literal is not a setting. */
  private async resetTouched(): Promise<void> {
    for (const name of this.touchedSettings) {
      await this.engine.query({ sql: `SET ${name} = DEFAULT`, format: "TabSeparated" }).catch(() => undefined);
      this.settings.delete(name);
    }
    this.touchedSettings.clear();
  }

  /** After a failed change the connection is in an unknown mix: put every touched setting back. */
  private async resetAfterFailure(desired: RequestContext): Promise<void> {
    const names = new Set([...this.settings.keys(), ...desired.settings.keys()]);
    for (const name of names) {
      await this.engine.query({ sql: `SET ${name} = DEFAULT`, format: "TabSeparated" }).catch(() => undefined);
    }
    await this.engine.query({ sql: `USE ${defaultDatabase}`, format: "TabSeparated" });
    this.database = defaultDatabase;
    this.settings = new Map();
  }
}
