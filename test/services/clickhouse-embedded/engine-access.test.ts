import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  endpointPassword,
  grantedPrivileges,
  writeEngineAccessConfig,
} from "../../../services/clickhouse-embedded/engine-access.ts";

const dirs: string[] = [];
const fresh = () => {
  const dir = mkdtempSync(join(tmpdir(), "engine-access-"));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("engine access config", () => {
  test("the users file grants the endpoint's list and no source, dictionary, backup or user management", () => {
    const dir = fresh();
    const arg = writeEngineAccessConfig(dir);
    expect(arg).toBe(`--config-file=${join(dir, "endpoint-access", "config.xml")}`);
    const users = readFileSync(join(dir, "endpoint-access", "users.xml"), "utf8");
    expect(users).toContain(`GRANT ${grantedPrivileges.join(", ")} ON *.*`);
    for (const forbidden of ["SOURCES", "FILE", "URL", "REMOTE", "DICTIONARY", "BACKUP", "ACCESS MANAGEMENT", "ALL"]) {
      expect(grantedPrivileges as readonly string[]).not.toContain(forbidden);
    }
    expect(users).toContain("<readonly><readonly/></readonly>");
  });

  test("without a configured password one is generated once, kept 0600, and reused", () => {
    const dir = fresh();
    const first = endpointPassword(dir, "");
    expect(first.password.length).toBeGreaterThanOrEqual(32);
    expect(first.generatedAt).toBe(join(dir, "endpoint-access", "password"));
    expect(statSync(first.generatedAt!).mode & 0o777).toBe(0o600);
    expect(endpointPassword(dir, "").password).toBe(first.password);
    expect(endpointPassword(dir, "given")).toEqual({ password: "given" });
  });
});
