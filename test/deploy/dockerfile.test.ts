import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parserHeaderBytesFlag } from "../../src/http/request-limits.ts";
import { listeningPort, pumpLines } from "../support/service-process.ts";
import { testBrokerTokenEnv } from "../support/test-tokens.ts";

const root = resolve(import.meta.dir, "../..");
const dockerfile = readFileSync(join(root, "Dockerfile"), "utf8");
const entrypoint = readFileSync(join(root, "deploy/docker/entrypoint.sh"), "utf8");
const dockerignore = readFileSync(join(root, ".dockerignore"), "utf8").split("\n");
const scripts = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts: Record<string, string> })
  .scripts;

/** service name → entry file, as the entrypoint's case arms say. */
function entrypointServices(): Map<string, string> {
  const services = new Map<string, string>();
  for (const match of entrypoint.matchAll(/^\s+([a-z-]+)\)\s+exec bun (\S+)/gm)) {
    services.set(match[1] ?? "", match[2] ?? "");
  }
  return services;
}

describe("Dockerfile", () => {
  test("is multi-stage on the official Bun image and installs production dependencies only", () => {
    const stages = [...dockerfile.matchAll(/^FROM (\S+) AS (\S+)$/gm)];
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage[1]).toStartWith("oven/bun:");
    expect(dockerfile).toMatch(/bun install --frozen-lockfile --production/);
    const devDependencies = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).devDependencies as Record<
      string,
      string
    >;
    expect(Object.keys(devDependencies)).toContain("chdb");
    expect(dockerignore).toContain("services/clickhouse-embedded");
  });

  test("runs as a non-root user with a HEALTHCHECK and the sample CSV at the documented path", () => {
    expect(dockerfile).toMatch(/^USER 10001:10001$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*telemetry", "healthcheck"\]$/m);
    expect(dockerfile).toContain("COPY data ./data");
    expect(dockerfile).toContain("STREAMER_CSV_PATH=/app/data/dcgm_metrics_20250718_134233.csv");
    expect(existsSync(join(root, "data/dcgm_metrics_20250718_134233.csv"))).toBe(true);
  });

  test("every service the image can run exists and matches its package script", () => {
    const services = entrypointServices();
    expect([...services.keys()].sort()).toEqual(["api", "broker", "broker-cli", "collector", "streamer"]);
    const scriptFor: Record<string, string> = {
      broker: "broker:server",
      streamer: "streamer",
      collector: "collector",
      api: "api",
      "broker-cli": "broker",
    };
    for (const [service, file] of services) {
      expect(existsSync(join(root, file))).toBe(true);
      // Servers run with Bun's parser limit raised (the image sets it through BUN_OPTIONS).
      expect(scripts[scriptFor[service] ?? ""]?.replace(`${parserHeaderBytesFlag} `, "")).toBe(`bun ${file}`);
      // Every directory the entry needs is copied into the image.
      expect(dockerfile).toContain(`COPY ${file.split("/")[0]} ./${file.split("/")[0]}`);
    }
    expect(dockerfile).toContain(`BUN_OPTIONS=${parserHeaderBytesFlag}`);
  });

  test("the entrypoint refuses an unknown service with a usage line", () => {
    const run = Bun.spawnSync(["sh", join(root, "deploy/docker/entrypoint.sh"), "database"], {
      cwd: root,
      stderr: "pipe",
    });
    expect(run.exitCode).toBe(64);
    expect(run.stderr.toString()).toContain("usage: <broker|streamer|collector|api|broker-cli|healthcheck>");
  });

  test("the entrypoint starts the broker, its healthcheck passes, and SIGTERM stops it cleanly", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "entrypoint-broker-"));
    const child = Bun.spawn(["sh", join(root, "deploy/docker/entrypoint.sh"), "broker"], {
      cwd: root,
      env: {
        ...process.env,
        BROKER_PORT: "0",
        BROKER_HOST: "127.0.0.1",
        BROKER_DATA_DIR: dataDir,
        LOG_FORMAT: "json",
        ...testBrokerTokenEnv,
      },
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      const port = await portFromLog(child.stdout);
      const healthy = Bun.spawnSync(["sh", join(root, "deploy/docker/entrypoint.sh"), "healthcheck"], {
        cwd: root,
        env: { ...process.env, BROKER_PORT: String(port), API_PORT: "1", STREAMER_PORT: "1", COLLECTOR_PORT: "1" },
      });
      expect(healthy.exitCode).toBe(0);
      child.kill("SIGTERM");
      expect(await child.exited).toBe(0);
    } finally {
      child.kill("SIGKILL");
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 30_000);

  test("the healthcheck fails when nothing answers", () => {
    const run = Bun.spawnSync(["sh", join(root, "deploy/docker/entrypoint.sh"), "healthcheck"], {
      cwd: root,
      env: { ...process.env, BROKER_PORT: "1", API_PORT: "1", STREAMER_PORT: "1", COLLECTOR_PORT: "1" },
    });
    expect(run.exitCode).toBe(1);
  });
});

async function portFromLog(stdout: ReadableStream<Uint8Array>): Promise<number> {
  const found = Promise.withResolvers<number>();
  void pumpLines(stdout, (line) => {
    const port = listeningPort(line);
    if (port !== undefined) found.resolve(port);
  }).then(() => found.reject(new Error("the broker exited before listening")));
  return await found.promise;
}
