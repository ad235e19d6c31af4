import { describe, expect, test } from "bun:test";
import {
  isSettingName,
  quoteIdentifier,
  settingLiteral,
} from "../../../services/clickhouse-embedded/connection-state.ts";

describe("SQL pieces built from URL values", () => {
  test("numbers stay bare, everything else is an escaped string literal", () => {
    expect(settingLiteral("8")).toBe("8");
    expect(settingLiteral("-0.5")).toBe("-0.5");
    expect(settingLiteral("1e3")).toBe("'1e3'");
    expect(settingLiteral("x'; DROP TABLE t; --")).toBe("'x\\'; DROP TABLE t; --'");
    expect(settingLiteral("back\\slash")).toBe("'back\\\\slash'");
  });

  test("database names are quoted identifiers", () => {
    expect(quoteIdentifier("telemetry")).toBe("`telemetry`");
    expect(quoteIdentifier("a`b\\c")).toBe("`a\\`b\\\\c`");
  });

  test("setting names are plain identifiers", () => {
    expect(isSettingName("insert_deduplication_token")).toBe(true);
    expect(isSettingName("max threads")).toBe(false);
    expect(isSettingName("1x")).toBe(false);
  });
});
