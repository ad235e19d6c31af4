import type { Logger } from "../observability/logger.ts";
import { TokenDirectory } from "./token-directory.ts";
import { parseTokenEntries } from "./token-entries.ts";
import { TokenStore } from "./token-store.ts";

/**
 * The tokens one service accepts, from its settings: per scope a variable (fixed for
 * the life of the process) and a file in the tokens directory (re-read when it
 * changes). Both are merged; either may be empty.
 */
export interface ServiceTokensOptions {
  scopes: readonly string[];
  /** Scopes whose entries may be limited to groups. */
  limitableScopes?: readonly string[];
  /** Per scope: the variable's name (named in errors) and its text. */
  variables: Record<string, { name: string; text: string }>;
  /** Directory with a file per scope; empty: none. */
  directory: string;
  reloadMs: number;
  logger: Logger;
}

export interface ServiceTokens {
  store: TokenStore;
  stop(): void;
}

/** Throws (at start-up) on a malformed entry or a missing directory, naming the variable or file. */
export function openServiceTokens(options: ServiceTokensOptions): ServiceTokens {
  const store = new TokenStore(options.scopes);
  const limitableScopes = options.limitableScopes ?? [];
  for (const scope of options.scopes) {
    const variable = options.variables[scope];
    if (variable === undefined || variable.text.trim() === "") continue;
    const limitable = limitableScopes.includes(scope);
    store.replace(scope, variable.name, parseTokenEntries(variable.text, { source: variable.name, limitable }));
  }
  const directory =
    options.directory === ""
      ? undefined
      : TokenDirectory.open({
          directory: options.directory,
          store,
          limitableScopes,
          reloadMs: options.reloadMs,
          logger: options.logger,
        });
  return { store, stop: () => directory?.stop() };
}
