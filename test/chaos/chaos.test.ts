/**
 * The chaos suite's short mode in the test command: the dev stack's real processes
 * under load, each fault kind injected twice at random moments (test/chaos/faults.ts),
 * then the reconciliation. Nothing acknowledged may be lost, nothing stored twice,
 * no schedule row sent twice, no GPU left without data for long, no log line that is
 * not JSON. `bun run chaos` runs the long version (README, "Chaos suite").
 */
import { expect, test } from "bun:test";
import { runChaos } from "./chaos-run.ts";
import { faultKinds } from "./faults.ts";
import { chaosOptions, renderReport, reportLine } from "./main.ts";

test("short chaos: every fault kind twice, nothing lost, duplicated or re-sent", async () => {
  const lines: string[] = [];
  const options = { ...chaosOptions(true, (line) => lines.push(line)), seed: 14 };
  const report = await runChaos(options);
  console.info(`${renderReport(report, options.seed)}\n${reportLine(report)}`);
  if (!report.diskLimited) console.warn("chaos: the disk fill was left out (a tmpfs cannot be mounted here)");
  const kinds = faultKinds.length - (report.diskLimited ? 0 : 1);
  expect(report.faults).toBe(kinds * options.faultsPerKind);
  expect(report.faultErrors).toEqual([]);
  expect(report.acked).toBeGreaterThan(0);
  expect(report.rows).toBe(report.stored);
  expect(report.lost).toBe(0);
  expect(report.duplicated).toBe(0);
  expect(report.contentDuplicates).toBe(0);
  expect(report.resent).toBe(0);
  expect(report.maxGapMs).toBeLessThan(5_000);
  expect(report.nonJsonLines).toBe(0);
}, 300_000);
