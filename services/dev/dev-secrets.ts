import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The dev stack's secrets, generated on first start under `<data dir>/secrets/` (mode
 * 0600, in a 0700 directory) and reused after: the embedded ClickHouse password (the
 * endpoint, the collectors and the API get it) and the API's cursor key. `--reset`
 * deletes them with the rest of the data.
 */
export interface DevSecrets {
  directory: string;
  clickhousePassword: string;
  apiCursorKey: string;
}

export function loadOrCreateDevSecrets(dataDir: string): DevSecrets {
  const directory = join(dataDir, "secrets");
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  chmodSync(directory, 0o700);
  return {
    directory,
    clickhousePassword: secretFile(join(directory, "clickhouse-password"), () => randomBytes(24).toString("base64url")),
    apiCursorKey: secretFile(join(directory, "api-cursor-key"), () => randomBytes(32).toString("base64")),
  };
}

function secretFile(path: string, generate: () => string): string {
  if (existsSync(path)) {
    const kept = readFileSync(path, "utf8").trim();
    if (kept !== "") return kept;
  }
  const value = generate();
  writeFileSync(path, `${value}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return value;
}
