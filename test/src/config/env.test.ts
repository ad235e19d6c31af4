import { describe, expect, test } from "bun:test";
import { Type } from "@sinclair/typebox";
import { ConfigError, loadConfig } from "../../../src/config/env.ts";
import { Setting } from "../../../src/config/settings.ts";

const Schema = Type.Object({
  PORT: Setting.integer({ default: 8080, minimum: 1, maximum: 65_535, description: "HTTP port" }),
  MODE: Setting.choice(["loop", "once"] as const, { default: "loop", description: "replay mode" }),
  URL: Setting.url({ default: "http://127.0.0.1:8123", description: "endpoint" }),
  ENABLED: Setting.boolean({ default: true, description: "switch" }),
  TOKEN: Setting.string({ description: "required secret", minLength: 1 }),
});

describe("loadConfig", () => {
  test("takes defaults for unset variables and converts strings", () => {
    const config = loadConfig(Schema, { PORT: "9000", ENABLED: "false", TOKEN: "x" });
    expect(config).toEqual({ PORT: 9000, MODE: "loop", URL: "http://127.0.0.1:8123", ENABLED: false, TOKEN: "x" });
  });

  test("names the variable and the bound when a number is out of range", () => {
    expect(() => loadConfig(Schema, { PORT: "70000", TOKEN: "x" })).toThrow(ConfigError);
    expect(() => loadConfig(Schema, { PORT: "70000", TOKEN: "x" })).toThrow(/^PORT: .*"70000".*max 65535/);
  });

  test("rejects a non-integer, a wrong choice and a malformed URL", () => {
    expect(() => loadConfig(Schema, { PORT: "12.5", TOKEN: "x" })).toThrow(/^PORT:/);
    expect(() => loadConfig(Schema, { PORT: "abc", TOKEN: "x" })).toThrow(/^PORT:/);
    expect(() => loadConfig(Schema, { MODE: "sometimes", TOKEN: "x" })).toThrow(/^MODE: .*one of loop, once/);
    expect(() => loadConfig(Schema, { URL: "ftp://x", TOKEN: "x" })).toThrow(/^URL:/);
  });

  test("a required variable without default must be set", () => {
    expect(() => loadConfig(Schema, {})).toThrow(/^TOKEN: required but not set/);
  });

  test("the message is a single line", () => {
    try {
      loadConfig(Schema, { PORT: "-1", TOKEN: "x" });
      throw new Error("expected a ConfigError");
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message.includes("\n")).toBe(false);
    }
  });
});
