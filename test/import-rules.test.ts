import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/**
 * The module boundaries, checked on the source tree so they stay true: the wire
 * protocol stands alone, the broker speaks only it, the client sits on top of it,
 * and the services talk to the broker only through the client.
 */

const root = resolve(import.meta.dir, "..");

interface SourceImport {
  /** Repo-relative path of the importing file. */
  file: string;
  /** The specifier as written. */
  specifier: string;
  /** Repo-relative path for a relative specifier; the package name otherwise. */
  target: string;
}

const importPattern =
  /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*["']([^"']+)["']|import\s*\(\s*["']([^"']+)["']\s*\)/g;
const sideEffectImportPattern = /^\s*import\s+["']([^"']+)["']/gm;

function sourceFiles(folder: string): string[] {
  const glob = new Bun.Glob("**/*.ts");
  return [...glob.scanSync({ cwd: join(root, folder) })].map((path) => join(folder, path)).sort();
}

function importsOf(file: string): SourceImport[] {
  const text = readFileSync(join(root, file), "utf8");
  const specifiers = [
    ...[...text.matchAll(importPattern)].map((match) => match[1] ?? match[2]),
    ...[...text.matchAll(sideEffectImportPattern)].map((match) => match[1]),
  ].filter((specifier): specifier is string => specifier !== undefined);
  return specifiers.map((specifier) => ({
    file,
    specifier,
    target: specifier.startsWith(".") ? relative(root, resolve(root, dirname(file), specifier)) : specifier,
  }));
}

function importsUnder(folder: string): SourceImport[] {
  return sourceFiles(folder).flatMap(importsOf);
}

const isBuiltin = (target: string) => target.startsWith("node:") || target.startsWith("bun:") || target === "bun";
const isUnder = (target: string, folder: string) => target === folder || target.startsWith(`${folder}/`);
const describeImport = (item: SourceImport) => `${item.file} imports ${item.specifier}`;

describe("import rules", () => {
  test("the scanner sees the imports it is meant to judge", () => {
    const client = importsUnder("src/broker-client");
    expect(client.length).toBeGreaterThan(20);
    expect(client.some((item) => item.target === "src/broker-protocol/routes.ts")).toBe(true);
    expect(importsUnder("brokers").some((item) => item.target === "elysia")).toBe(true);
  });

  test("src/broker-protocol imports no framework, no client and nothing else of src/", () => {
    const allowed = (item: SourceImport) =>
      isUnder(item.target, "src/broker-protocol") ||
      item.target.startsWith("@sinclair/typebox") ||
      isBuiltin(item.target);
    expect(
      importsUnder("src/broker-protocol")
        .filter((item) => !allowed(item))
        .map(describeImport),
    ).toEqual([]);
  });

  test("src/broker-client builds on the protocol and the runtime only, without elysia", () => {
    const allowed = (item: SourceImport) =>
      isUnder(item.target, "src/broker-client") ||
      isUnder(item.target, "src/broker-protocol") ||
      isUnder(item.target, "src/runtime") ||
      item.target.startsWith("@sinclair/typebox") ||
      isBuiltin(item.target);
    expect(
      importsUnder("src/broker-client")
        .filter((item) => !allowed(item))
        .map(describeImport),
    ).toEqual([]);
  });

  test("the broker imports from src/ only the protocol and generic modules, never the client", () => {
    const genericSrc = [
      "src/broker-protocol",
      "src/observability",
      "src/http",
      "src/config",
      "src/runtime",
      "src/auth",
    ];
    const refused = importsUnder("brokers").filter(
      (item) => isUnder(item.target, "src") && !genericSrc.some((folder) => isUnder(item.target, folder)),
    );
    expect(refused.map(describeImport)).toEqual([]);
  });

  test("src/ never imports from services/ or brokers/", () => {
    const refused = importsUnder("src").filter(
      (item) => isUnder(item.target, "services") || isUnder(item.target, "brokers"),
    );
    expect(refused.map(describeImport)).toEqual([]);
  });

  test("the collector and the streamer reach the broker only through the client", () => {
    // What building a broker request by hand would need.
    const requestBuilding = [
      "src/broker-protocol/routes.ts",
      "src/broker-protocol/headers.ts",
      "src/broker-protocol/produce-frames.ts",
      "src/broker-client/http-client.ts",
      "src/broker-client/group-client.ts",
      "src/broker-client/partition-fetch.ts",
    ];
    const folders = ["services/collector", "services/streamer", "services/broker-cli"];
    const refused = folders
      .flatMap(importsUnder)
      .filter((item) => requestBuilding.includes(item.target) && !isCliErrorType(item));
    expect(refused.map(describeImport)).toEqual([]);
    const brokerPaths = folders
      .flatMap(sourceFiles)
      .filter((file) => /["'`][^"'`]*\/v1\/(topics|groups|producers)/.test(readFileSync(join(root, file), "utf8")));
    expect(brokerPaths).toEqual([]);
  });
});

/** The CLI shows the broker's error codes: it may know the client's error type, not how requests are made. */
function isCliErrorType(item: SourceImport): boolean {
  if (!isUnder(item.file, "services/broker-cli") || item.target !== "src/broker-client/http-client.ts") return false;
  return /import\s*\{\s*BrokerClientError\s*\}\s*from/.test(readFileSync(join(root, item.file), "utf8"));
}
