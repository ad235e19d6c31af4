import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ProcessSpec, ProcessSupervisor } from "../../../services/dev/process-supervisor.ts";
import { createLogger } from "../../../src/observability/logger.ts";

const logger = createLogger({ service: "test", instanceId: "t", level: "silent" });
const dirs: string[] = [];
const supervisors: ProcessSupervisor[] = [];

function newSupervisor(): { supervisor: ProcessSupervisor; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "supervisor-"));
  dirs.push(dir);
  const supervisor = new ProcessSupervisor(logger, {
    tailLinesMax: 5,
    restartBackoffMsMin: 50,
    restartBackoffMsMax: 200,
    stopTimeoutMs: 2_000,
    stableRunMs: 60_000,
  });
  supervisors.push(supervisor);
  return { supervisor, dir };
}

function script(dir: string, name: string, source: string): ProcessSpec {
  return {
    name,
    kind: "worker",
    command: [process.execPath, "-e", source],
    env: {},
    httpPort: 0,
    logFile: join(dir, `${name}.log`),
  };
}

function logText(dir: string, name: string): string {
  try {
    return readFileSync(join(dir, `${name}.log`), "utf8");
  } catch {
    return "";
  }
}

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error("condition not met in time");
    await Bun.sleep(20);
  }
}

afterEach(async () => {
  for (const supervisor of supervisors.splice(0)) supervisor.killAll();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("ProcessSupervisor", () => {
  test("restarts a process that dies and keeps its output in the log file", async () => {
    const { supervisor, dir } = newSupervisor();
    supervisor.start(script(dir, "crasher", `console.log("started"); process.exit(3)`));
    await until(() => (supervisor.status()[0]?.restarts ?? 0) >= 2);
    const log = logText(dir, "crasher");
    expect(log.match(/started/g)?.length ?? 0).toBeGreaterThanOrEqual(2);
    await supervisor.stopAll();
    expect(supervisor.status()[0]?.state).toBe("stopped");
  });

  test("a process that exits 0 by itself has finished: it is not restarted and leaves the list", async () => {
    const { supervisor, dir } = newSupervisor();
    supervisor.start(script(dir, "once", `console.log("done")`));
    await until(() => supervisor.status().length === 0);
    await Bun.sleep(150);
    expect(logText(dir, "once").match(/done/g)).toHaveLength(1);
  });

  test("stop sends SIGTERM and waits for a graceful exit", async () => {
    const { supervisor, dir } = newSupervisor();
    const source = `process.on("SIGTERM", () => { console.log("draining"); setTimeout(() => process.exit(0), 100); }); console.log("ready"); setInterval(() => {}, 1000);`;
    supervisor.start(script(dir, "graceful", source));
    await until(() => logText(dir, "graceful").includes("ready"));
    await supervisor.stop("graceful");
    expect(logText(dir, "graceful")).toContain("draining");
    expect(supervisor.status()).toHaveLength(0);
  });

  test("a process that ignores SIGTERM is killed after the stop timeout", async () => {
    const { supervisor, dir } = newSupervisor();
    const source = `process.on("SIGTERM", () => {}); console.log("ready"); setInterval(() => {}, 1000);`;
    supervisor.start(script(dir, "stubborn", source));
    await until(() => logText(dir, "stubborn").includes("ready"));
    const startedMs = performance.now();
    await supervisor.stop("stubborn");
    expect(performance.now() - startedMs).toBeGreaterThanOrEqual(1_900);
  });

  test("names lists the processes of one kind and a duplicate name is refused", () => {
    const { supervisor, dir } = newSupervisor();
    supervisor.start(script(dir, "a-1", "setInterval(() => {}, 1000)"));
    expect(supervisor.names("worker")).toEqual(["a-1"]);
    expect(() => supervisor.start(script(dir, "a-1", "0"))).toThrow(/already supervised/);
  });
});
