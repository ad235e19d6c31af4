import { expect, test } from "bun:test";
import { isValidName } from "../../../src/broker-protocol/names.ts";

test("names are safe for paths and URLs", () => {
  expect(isValidName("telemetry")).toBe(true);
  expect(isValidName("dead-letter.v1_x")).toBe(true);
  expect(isValidName("..")).toBe(false);
  expect(isValidName("a/b")).toBe(false);
  expect(isValidName("")).toBe(false);
});
