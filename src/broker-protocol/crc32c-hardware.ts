import { readFileSync } from "node:fs";
import { join } from "node:path";

export type Crc32cKernel = (crc: number, bytes: Uint8Array, length: number) => number;

const checkInput = new TextEncoder().encode("123456789");
const checkValue = 0xe3069283;

/**
 * The SSE4.2 CRC32C kernel (about 10× the table-driven JS here), or undefined where
 * it cannot run: not x86-64 Linux, no sse4_2 flag, bun:ffi's compiler unavailable, or
 * a wrong answer on the standard check value. `CRC32C_IMPLEMENTATION=js` forces JS.
 */
export function loadHardwareCrc32c(): Crc32cKernel | undefined {
  if (process.env.CRC32C_IMPLEMENTATION === "js") return undefined;
  if (process.arch !== "x64" || process.platform !== "linux" || !cpuHasSse42()) return undefined;
  try {
    const { cc } = require("bun:ffi") as typeof import("bun:ffi");
    const { symbols } = cc({
      source: join(import.meta.dir, "crc32c-sse42.c"),
      symbols: { crc32c_sse42: { args: ["i32", "ptr", "u64"], returns: "u32" } },
    });
    const kernel: Crc32cKernel = (crc, bytes, length) => symbols.crc32c_sse42(crc | 0, bytes, length) >>> 0;
    return kernel(0, checkInput, checkInput.length) === checkValue ? kernel : undefined;
  } catch {
    return undefined;
  }
}

function cpuHasSse42(): boolean {
  try {
    return /^flags\s*:.*\bsse4_2\b/m.test(readFileSync("/proc/cpuinfo", "utf8"));
  } catch {
    return false;
  }
}
