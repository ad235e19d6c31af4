import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../config/env.ts";
import type { Logger } from "../observability/logger.ts";
import { parseTokenEntries } from "./token-entries.ts";
import type { TokenStore } from "./token-store.ts";

/**
 * Token lists kept as one file per scope in a directory (`<dir>/produce`,
 * `<dir>/consume`…): the shape of a mounted Kubernetes Secret. The files are read at
 * start and re-read whenever one changes (checked every `reloadMs`), so a token is
 * added or retired by editing the Secret, without a restart. A file that becomes
 * unreadable or invalid keeps its last good entries and is reported.
 */
export interface TokenDirectoryOptions {
  directory: string;
  store: TokenStore;
  /** Scopes whose entries may carry `groups=`. */
  limitableScopes: readonly string[];
  /** How often the files are checked for changes; 0 reads them once. */
  reloadMs: number;
  logger: Logger;
}

export class TokenDirectory {
  private readonly fingerprints = new Map<string, string>();
  private timer: ReturnType<typeof setInterval> | undefined;

  /** Reads every scope's file once; a missing directory or a bad file is an error (start-up). */
  static open(options: TokenDirectoryOptions): TokenDirectory {
    const statDirectory = statSync(options.directory, { throwIfNoEntry: false });
    if (statDirectory === undefined || !statDirectory.isDirectory()) {
      throw new ConfigError(`token directory ${options.directory} does not exist`);
    }
    const directory = new TokenDirectory(options);
    for (const scope of options.store.scopes) directory.load(scope);
    if (options.reloadMs > 0) {
      directory.timer = setInterval(() => directory.reloadChanged(), options.reloadMs);
      directory.timer.unref();
    }
    return directory;
  }

  private constructor(private readonly options: TokenDirectoryOptions) {}

  /** Re-reads the files that changed since they were last read; returns the scopes reloaded. */
  reloadChanged(): string[] {
    const reloaded: string[] = [];
    for (const scope of this.options.store.scopes) {
      if (this.fingerprints.get(scope) === this.fingerprint(scope)) continue;
      try {
        this.load(scope);
        reloaded.push(scope);
      } catch (error) {
        // Keep the last good list; remember the bad version so it is reported once.
        this.fingerprints.set(scope, this.fingerprint(scope));
        this.options.logger.error(
          { err: (error as Error).message, scope },
          "token file rejected; keeping its last list",
        );
      }
    }
    if (reloaded.length > 0) {
      this.options.logger.info({ reloaded, tokenCounts: this.options.store.counts() }, "token files reloaded");
    }
    return reloaded;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private load(scope: string): void {
    const path = join(this.options.directory, scope);
    const fingerprint = this.fingerprint(scope);
    const text = fingerprint === "missing" ? "" : readFileSync(path, "utf8");
    const limitable = this.options.limitableScopes.includes(scope);
    this.options.store.replace(scope, path, parseTokenEntries(text, { source: path, limitable }));
    this.fingerprints.set(scope, fingerprint);
  }

  /** Changes whenever the file is replaced or rewritten (a Secret update swaps a symlink: new inode). */
  private fingerprint(scope: string): string {
    const stats = statSync(join(this.options.directory, scope), { throwIfNoEntry: false });
    return stats === undefined ? "missing" : `${stats.ino}:${stats.size}:${stats.mtimeMs}`;
  }
}
