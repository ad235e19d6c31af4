import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { withCurrentConfig } from "./support/readme-config.ts";

const root = resolve(import.meta.dir, "..");
const readme = readFileSync(join(root, "README.md"), "utf8");
const scripts = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts: Record<string, string> })
  .scripts;

describe("README", () => {
  test("its configuration tables match the config schemas (run `bun run docs` after changing a setting)", () => {
    expect(readme).toBe(withCurrentConfig(readme));
  });

  test("the two quick-start commands are the ones CI runs and the dev script", () => {
    const ci = readFileSync(join(root, ".ci/run"), "utf8");
    const testCommand = /npx --yes bun@[\d.]+ run test/.exec(ci)?.[0];
    expect(testCommand).toBeDefined();
    expect(readme).toContain(`${testCommand ?? ""}`);
    expect(readme).toContain((testCommand ?? "").replace("run test", "run dev"));
    expect(scripts.dev).toContain("services/dev/main.ts");
  });

  test("every `bun run <script>` it mentions exists", () => {
    for (const match of readme.matchAll(/bun run ([a-z:-]+)/g)) {
      expect({ script: match[1], exists: (match[1] ?? "") in scripts }).toEqual({ script: match[1], exists: true });
    }
  });
});
