import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { openServiceTokens } from "../../../src/auth/service-tokens.ts";
import { TokenDirectory } from "../../../src/auth/token-directory.ts";
import { TokenStore } from "../../../src/auth/token-store.ts";
import { newToken } from "../../../src/auth/token-syntax.ts";
import { ConfigError } from "../../../src/config/env.ts";
import { createLogger } from "../../../src/observability/logger.ts";

const lines: string[] = [];
const logger = createLogger({
  service: "test",
  instanceId: "test",
  level: "debug",
  destination: new Writable({
    write: (chunk, _encoding, done) => {
      lines.push(String(chunk));
      done();
    },
  }),
});
const directories: string[] = [];
function directory(): string {
  const made = mkdtempSync(join(tmpdir(), "tokens-dir-"));
  directories.push(made);
  return made;
}
afterEach(() => {
  for (const made of directories.splice(0)) rmSync(made, { recursive: true, force: true });
  lines.length = 0;
});

describe("token files in a directory", () => {
  test("a file per scope is read at start; a missing file is an empty list; a missing directory a config error", () => {
    const dir = directory();
    const token = newToken();
    writeFileSync(join(dir, "consume"), `${token} groups=collectors\n`);
    const store = new TokenStore(["produce", "consume"]);
    const opened = TokenDirectory.open({ directory: dir, store, limitableScopes: ["consume"], reloadMs: 0, logger });
    expect(store.grantsOf(token).map((grant) => grant.scope)).toEqual(["consume"]);
    expect(store.counts()).toEqual({ produce: 0, consume: 1 });
    opened.stop();
    expect(() =>
      TokenDirectory.open({ directory: join(dir, "nope"), store, limitableScopes: [], reloadMs: 0, logger }),
    ).toThrow(ConfigError);
  });

  test("a changed file is read again (rotation without a restart); a bad version keeps the last good list and is reported once", () => {
    const dir = directory();
    const old = newToken();
    const fresh = newToken();
    writeFileSync(join(dir, "read"), `${old}\n`);
    const store = new TokenStore(["read"]);
    const opened = TokenDirectory.open({ directory: dir, store, limitableScopes: [], reloadMs: 0, logger });
    expect(opened.reloadChanged()).toEqual([]);
    writeFileSync(join(dir, "read"), `${old}\n${fresh}\n`);
    expect(opened.reloadChanged()).toEqual(["read"]);
    expect(store.grantsOf(fresh)).toHaveLength(1);
    writeFileSync(join(dir, "read"), `${fresh}\nnot a token at all\n`);
    expect(opened.reloadChanged()).toEqual([]);
    expect(opened.reloadChanged()).toEqual([]);
    expect(store.grantsOf(old)).toHaveLength(1);
    const rejected = lines.filter((line) => line.includes("token file rejected"));
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toContain("entry 2");
    expect(lines.join("")).not.toContain(fresh);
    writeFileSync(join(dir, "read"), `${fresh}\n`);
    expect(opened.reloadChanged()).toEqual(["read"]);
    expect(store.grantsOf(old)).toEqual([]);
    opened.stop();
  });

  test("a Kubernetes Secret update (the ..data symlink swapped to a new directory) is seen", () => {
    const dir = directory();
    const token = newToken();
    const next = newToken();
    writeFileSync(join(dir, "v1"), token);
    symlinkSync("v1", join(dir, "..data"));
    symlinkSync("..data", join(dir, "upload"));
    const store = new TokenStore(["upload"]);
    const opened = TokenDirectory.open({ directory: dir, store, limitableScopes: [], reloadMs: 0, logger });
    expect(store.grantsOf(token)).toHaveLength(1);
    writeFileSync(join(dir, "v2"), next);
    symlinkSync("v2", join(dir, "..data_tmp"));
    renameSync(join(dir, "..data_tmp"), join(dir, "..data"));
    expect(opened.reloadChanged()).toEqual(["upload"]);
    expect(store.grantsOf(next)).toHaveLength(1);
    expect(store.grantsOf(token)).toEqual([]);
    opened.stop();
  });

  test("the reload timer picks a change up by itself", async () => {
    const dir = directory();
    const token = newToken();
    const tokens = openServiceTokens({
      scopes: ["read"],
      variables: {},
      directory: dir,
      reloadMs: 20,
      logger,
    });
    expect(tokens.store.grantsOf(token)).toEqual([]);
    writeFileSync(join(dir, "read"), token);
    const deadline = performance.now() + 5_000;
    while (tokens.store.grantsOf(token).length === 0 && performance.now() < deadline) await Bun.sleep(10);
    expect(tokens.store.grantsOf(token)).toHaveLength(1);
    tokens.stop();
  });
});
