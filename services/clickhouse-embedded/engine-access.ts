import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * What the engine itself lets a query do. chdb runs every query as clickhouse-local's
 * `default` user, which holds every grant, file() and url() included. The endpoint gives
 * the engine a users file in which that user holds only what the pipeline and its
 * operators use, so ClickHouse's own access control refuses the rest with its own
 * error (ACCESS_DENIED, 497): no table function or engine that reaches the host or the
 * network (the SOURCES grants: file, url, remote, s3, hdfs, mysql, postgresql, jdbc,
 * odbc, sqlite, azure, ...; engines File, URL, S3, ...), no dictionaries (their sources
 * read files and URLs), no BACKUP, no introspection functions, no SYSTEM command but
 * merges and log flushing, no user management. `readonly` cannot be changed by SET
 * (a constraint), so a request's SET cannot leave the shared connection read-only;
 * read-only requests run on connections opened with --readonly (engine.ts).
 *
 * Two things grants cannot see, because clickhouse-local does them as a client before
 * the query reaches access control: INTO OUTFILE and FROM INFILE. The endpoint refuses
 * those in the request text (query-translation.ts); its own spooled inserts use FROM
 * INFILE internally (insert-spool.ts).
 */

/** Everything the endpoint's one user may do. */
export const grantedPrivileges = [
  "SHOW",
  "SELECT",
  "INSERT",
  "ALTER",
  "CREATE DATABASE",
  "CREATE TABLE",
  "CREATE VIEW",
  "CREATE TEMPORARY TABLE",
  "DROP TABLE",
  "DROP VIEW",
  "DROP DATABASE",
  "TRUNCATE",
  "OPTIMIZE",
  "KILL QUERY",
  "SYSTEM MERGES",
  "SYSTEM TTL MERGES",
  "SYSTEM FLUSH LOGS",
  "dictGet",
] as const;

const usersXml = `<clickhouse>
  <users>
    <default>
      <password></password>
      <profile>default</profile>
      <quota>default</quota>
      <grants>
        <query>GRANT ${grantedPrivileges.join(", ")} ON *.*</query>
      </grants>
    </default>
  </users>
  <profiles>
    <default>
      <constraints>
        <readonly><readonly/></readonly>
      </constraints>
    </default>
  </profiles>
  <quotas><default/></quotas>
</clickhouse>
`;

const accessDirName = "endpoint-access";

/** Writes the engine's config and users files under `dataDir`; returns the connection argument that loads them. */
export function writeEngineAccessConfig(dataDir: string): string {
  const directory = join(dataDir, accessDirName);
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  const usersPath = join(directory, "users.xml");
  const configPath = join(directory, "config.xml");
  writeFileSync(usersPath, usersXml);
  // A table's own disk (SETTINGS disk = disk(type = local, path = ...)) must lie in here.
  const disksPath = join(directory, "custom-disks");
  mkdirSync(disksPath, { recursive: true, mode: 0o700 });
  writeFileSync(
    configPath,
    `<clickhouse>\n  <users_config>${usersPath}</users_config>\n  <custom_local_disks_base_directory>${disksPath}/</custom_local_disks_base_directory>\n</clickhouse>\n`,
  );
  return `--config-file=${configPath}`;
}

/**
 * The endpoint's password: the configured one, or one generated on first start and
 * kept in `<dataDir>/endpoint-access/password` (mode 0600) for later starts.
 */
export function endpointPassword(dataDir: string, configured: string): { password: string; generatedAt?: string } {
  if (configured !== "") return { password: configured };
  const directory = join(dataDir, accessDirName);
  const path = join(directory, "password");
  if (existsSync(path)) return { password: readFileSync(path, "utf8").trim(), generatedAt: path };
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  const password = randomBytes(24).toString("base64url");
  writeFileSync(path, `${password}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return { password, generatedAt: path };
}
