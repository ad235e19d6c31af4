import { describe, expect, test } from "bun:test";
import { DevConfig, flagsToEnv } from "../../../services/dev/config.ts";
import { loadConfig } from "../../../src/config/env.ts";

describe("dev stack flags", () => {
  test("flags map to DEV_* variables in both --x=v and --x v forms", () => {
    expect(flagsToEnv(["--streamers=3", "--collectors", "1", "--rate", "2000", "--reset"])).toEqual({
      DEV_STREAMERS: "3",
      DEV_COLLECTORS: "1",
      DEV_STREAMER_RATE_ROWS_PER_S: "2000",
      DEV_RESET: "true",
    });
  });

  test("an unknown flag or a missing value is an error naming it", () => {
    expect(() => flagsToEnv(["--workers=2"])).toThrow(/unknown flag --workers=2/);
    expect(() => flagsToEnv(["--streamers"])).toThrow(/needs a value/);
  });

  test("counts above 10 are refused by the config schema", () => {
    expect(() => loadConfig(DevConfig, { DEV_COLLECTORS: "11" })).toThrow(/^DEV_COLLECTORS: .*max 10/);
    expect(loadConfig(DevConfig, {}).DEV_STREAMERS).toBe(2);
  });
});
