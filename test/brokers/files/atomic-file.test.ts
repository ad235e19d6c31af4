import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  isTemporaryFile,
  temporarySuffix,
  unlinkDurably,
  writeFileAtomic,
  writeFileAtomicAsync,
} from "../../../brokers/files/atomic-file.ts";

const dir = mkdtempSync(join(tmpdir(), "atomic-file-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("atomic file replacement", () => {
  test("writeFileAtomic replaces the whole file and leaves no temporary", () => {
    const path = join(dir, "sync.txt");
    writeFileAtomic(path, "first version, longer than the second");
    writeFileAtomic(path, new TextEncoder().encode("second"));
    expect(readFileSync(path, "utf8")).toBe("second");
    expect(readdirSync(dir).filter(isTemporaryFile)).toEqual([]);
  });

  test("writeFileAtomicAsync does the same, with or without the directory fsync", async () => {
    const path = join(dir, "async.json");
    await writeFileAtomicAsync(path, '{"a":1}');
    await writeFileAtomicAsync(path, new TextEncoder().encode('{"b":2}'), { fsyncDirectory: false });
    expect(readFileSync(path, "utf8")).toBe('{"b":2}');
    expect(readdirSync(dir).filter(isTemporaryFile)).toEqual([]);
  });

  test("a stale temporary from a crash is overwritten, and the old file stays whole until the rename", async () => {
    const path = join(dir, "crash.txt");
    writeFileAtomic(path, "old");
    writeFileSync(path + temporarySuffix, "torn writ");
    expect(readFileSync(path, "utf8")).toBe("old");
    await writeFileAtomicAsync(path, "new");
    expect(readFileSync(path, "utf8")).toBe("new");
    expect(existsSync(path + temporarySuffix)).toBe(false);
  });

  test("unlinkDurably removes a file and says whether there was one", async () => {
    const path = join(dir, "gone.txt");
    writeFileAtomic(path, "x");
    expect(await unlinkDurably(path)).toBe(true);
    expect(existsSync(path)).toBe(false);
    expect(await unlinkDurably(path)).toBe(false);
  });

  test("isTemporaryFile names the suffix every loader deletes", () => {
    expect(isTemporaryFile(`recovery-point${temporarySuffix}`)).toBe(true);
    expect(isTemporaryFile("collectors.group.json")).toBe(false);
  });
});
