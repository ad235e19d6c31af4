import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { digestEntry, newToken } from "../../src/auth/token-syntax.ts";

/**
 * The dev stack's secrets, generated on first start under `<data dir>/secrets/` (mode
 * 0600, in a 0700 directory) and reused after: the embedded ClickHouse password (the
 * endpoint, the collectors and the API get it), the API's cursor key, and a bearer
 * token per role. `--reset` deletes them with the rest of the data.
 *
 * The services' accepted lists are derived from the role tokens on every start and
 * hold only their digests (`sha256:…`), in a directory per service that the service
 * reads as its tokens directory: the broker's list never holds a client's token.
 */
export interface DevSecrets {
  directory: string;
  clickhousePassword: string;
  apiCursorKey: string;
  tokens: DevTokens;
}

/** One token per role; the file names are what `printWhereToLook` and the README show. */
export interface DevTokens {
  /** Broker admin, produce and consume (any group): the CLI's token (`bun run broker -- …`). */
  brokerAdmin: string;
  /** Broker produce, and consume in the streamers' group. */
  brokerStreamer: string;
  /** Broker produce (dead letters, intents), and consume in the collectors' group. */
  brokerCollector: string;
  /** The API's own at the broker: consume in the collectors' group (the live tail, the pipeline page). */
  brokerApi: string;
  /** The API's read scope (open in dev; the token works too). */
  apiRead: string;
  /** The streamers' upload. */
  streamerUpload: string;
  /** The dev control endpoint (`bun run dev:scale`). */
  devControl: string;
}

export const devTokenFiles: Record<keyof DevTokens, string> = {
  brokerAdmin: "broker-admin-token",
  brokerStreamer: "broker-streamer-token",
  brokerCollector: "broker-collector-token",
  brokerApi: "broker-api-token",
  apiRead: "api-read-token",
  streamerUpload: "streamer-upload-token",
  devControl: "dev-control-token",
};

/** The groups the dev streamers and collectors join (their services' defaults). */
export const devGroups = { streamers: "streamers", collectors: "collectors" } as const;

/** Where each service's accepted lists are written (its *_TOKENS_DIR). */
export const devTokenDirectories = { broker: "broker-tokens", api: "api-tokens", streamer: "streamer-tokens" } as const;

export function loadOrCreateDevSecrets(dataDir: string): DevSecrets {
  const directory = join(dataDir, "secrets");
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  chmodSync(directory, 0o700);
  const tokenEntries = Object.entries(devTokenFiles) as [keyof DevTokens, string][];
  const tokens = Object.fromEntries(
    tokenEntries.map(([role, file]) => [role, secretFile(join(directory, file), newToken)]),
  ) as unknown as DevTokens;
  const secrets: DevSecrets = {
    directory,
    clickhousePassword: secretFile(join(directory, "clickhouse-password"), () => randomBytes(24).toString("base64url")),
    apiCursorKey: secretFile(join(directory, "api-cursor-key"), () => randomBytes(32).toString("base64")),
    tokens,
  };
  writeAcceptedLists(directory, tokens);
  return secrets;
}

/** The path of a service's tokens directory (its *_TOKENS_DIR) under the secrets directory. */
export function devTokenDirectory(secrets: Pick<DevSecrets, "directory">, service: keyof typeof devTokenDirectories) {
  return join(secrets.directory, devTokenDirectories[service]);
}

function writeAcceptedLists(directory: string, tokens: DevTokens): void {
  const lists: Record<keyof typeof devTokenDirectories, Record<string, string[]>> = {
    broker: {
      produce: [
        digestEntry(tokens.brokerAdmin),
        digestEntry(tokens.brokerStreamer),
        digestEntry(tokens.brokerCollector),
      ],
      consume: [
        digestEntry(tokens.brokerAdmin),
        `${digestEntry(tokens.brokerStreamer)} groups=${devGroups.streamers}`,
        `${digestEntry(tokens.brokerCollector)} groups=${devGroups.collectors}`,
        `${digestEntry(tokens.brokerApi)} groups=${devGroups.collectors}`,
      ],
      admin: [digestEntry(tokens.brokerAdmin)],
    },
    api: { read: [digestEntry(tokens.apiRead)] },
    streamer: { upload: [digestEntry(tokens.streamerUpload)] },
  };
  for (const [service, scopes] of Object.entries(lists) as [
    keyof typeof devTokenDirectories,
    Record<string, string[]>,
  ][]) {
    const serviceDirectory = join(directory, devTokenDirectories[service]);
    mkdirSync(serviceDirectory, { recursive: true, mode: 0o700 });
    for (const [scope, entries] of Object.entries(scopes)) {
      writeFileSync(join(serviceDirectory, scope), `${entries.join("\n")}\n`, { mode: 0o600 });
    }
  }
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

/**
 * A role's token as a running dev stack keeps it, for the tools run beside it (the
 * broker CLI, `dev:scale`): read from `<DEV_DATA_DIR or .data>/secrets/`, undefined
 * when there is no such file (no dev stack started from here).
 */
export function readDevToken(role: keyof DevTokens, env: Record<string, string | undefined> = process.env) {
  const path = join(env.DEV_DATA_DIR || ".data", "secrets", devTokenFiles[role]);
  if (!existsSync(path)) return undefined;
  const token = readFileSync(path, "utf8").trim();
  return token === "" ? undefined : { token, path };
}
