import { afterAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RecoveryPointFile } from "../../../brokers/log/recovery-point-file.ts";
import { tempDir } from "./log-test-support.ts";

const dir = tempDir("recovery-point");
afterAll(dir.remove);

function warnings() {
  const logged: unknown[] = [];
  const logger = { warn: (fields: unknown) => logged.push(fields) } as unknown as Parameters<
    RecoveryPointFile["read"]
  >[0];
  return { logged, logger };
}

describe("RecoveryPointFile", () => {
  test("reads 0 (recover everything) when there is no file", () => {
    const file = new RecoveryPointFile(join(dir.path, "none"));
    expect(file.read(undefined)).toBe(0);
  });

  test("writes one decimal offset atomically and reads it back, sync or not", async () => {
    const file = new RecoveryPointFile(dir.path);
    file.writeSync(42);
    expect(readFileSync(file.path, "utf8")).toBe("42");
    await file.write(1_234_567);
    expect(new RecoveryPointFile(dir.path).read(undefined)).toBe(1_234_567);
    expect(readdirSync(dir.path).filter((name) => name.endsWith(".tmp"))).toEqual([]);
  });

  test("knows whether an offset would change the file, first write included", async () => {
    const file = new RecoveryPointFile(dir.path);
    expect(file.differsFrom(0)).toBe(true);
    await file.write(7);
    expect(file.differsFrom(7)).toBe(false);
    expect(file.differsFrom(8)).toBe(true);
  });

  test("an unreadable file means 0, with a warning naming the path", () => {
    for (const text of ["", "12x", "-5", "1e3", "99999999999999999999"]) {
      writeFileSync(join(dir.path, "recovery-point"), text);
      const { logged, logger } = warnings();
      expect(new RecoveryPointFile(dir.path).read(logger)).toBe(0);
      expect(logged).toEqual([{ path: join(dir.path, "recovery-point"), text: text.trim() }]);
    }
  });

  test("refuses to record an offset that is not a non-negative integer", () => {
    const file = new RecoveryPointFile(dir.path);
    expect(() => file.writeSync(-1)).toThrow(RangeError);
    expect(() => file.writeSync(1.5)).toThrow(RangeError);
  });
});
