import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { brokerConnectionOf, clientToken, tokenFileCheckMs } from "../../../src/auth/client-token.ts";
import { newToken } from "../../../src/auth/token-syntax.ts";
import { ConfigError } from "../../../src/config/env.ts";
import { ManualClock } from "../../../src/runtime/clock.ts";

const dir = mkdtempSync(join(tmpdir(), "client-token-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const none = { token: { name: "BROKER_TOKEN", value: "" }, file: { name: "BROKER_TOKEN_FILE", path: "" } };

describe("a client's token", () => {
  test("none, a value, or a file; both at once is a config error", () => {
    expect(clientToken(none)).toBeUndefined();
    const value = newToken();
    expect(clientToken({ ...none, token: { name: "BROKER_TOKEN", value: ` ${value}\n` } })?.()).toBe(value);
    const path = join(dir, "both");
    writeFileSync(path, value);
    expect(() =>
      clientToken({ token: { name: "BROKER_TOKEN", value }, file: { name: "BROKER_TOKEN_FILE", path } }),
    ).toThrow(new ConfigError("set BROKER_TOKEN or BROKER_TOKEN_FILE, not both"));
    expect(() => clientToken({ ...none, token: { name: "BROKER_TOKEN", value: "a b" } })).toThrow(ConfigError);
    expect(() => clientToken({ ...none, file: { name: "BROKER_TOKEN_FILE", path: join(dir, "missing") } })).toThrow(
      ConfigError,
    );
  });

  test("a token file is read again when it changes, at most once per check period; a bad version keeps the last token", () => {
    const path = join(dir, "rotating");
    const first = newToken();
    const second = newToken();
    writeFileSync(path, `${first}\n`);
    const clock = new ManualClock();
    const rejected: string[] = [];
    const token = clientToken({
      ...none,
      file: { name: "BROKER_TOKEN_FILE", path },
      clock: clock.now,
      onRejected: (problem) => rejected.push(problem),
    });
    expect(token?.()).toBe(first);
    writeFileSync(path, `${second}\n`);
    expect(token?.()).toBe(first);
    clock.advance(tokenFileCheckMs);
    expect(token?.()).toBe(second);
    writeFileSync(path, "\n");
    clock.advance(tokenFileCheckMs);
    expect(token?.()).toBe(second);
    clock.advance(tokenFileCheckMs);
    expect(token?.()).toBe(second);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).not.toContain(second);
  });

  test("a broker connection from the service settings", () => {
    const value = newToken();
    const connection = brokerConnectionOf({ BROKER_URL: "http://b:9092", BROKER_TOKEN: value, BROKER_TOKEN_FILE: "" });
    expect(connection.brokerUrl).toBe("http://b:9092");
    expect(connection.token?.()).toBe(value);
  });
});
