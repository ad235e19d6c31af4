import type { Logger } from "../../src/observability/logger.ts";
import type { ProcessSpec, ProcessSupervisor } from "./process-supervisor.ts";
import { fetchText } from "./prometheus-scrape.ts";
import {
  apiSpec,
  brokerSpec,
  clickhouseSpec,
  migrateSpec,
  type ScalableKind,
  type StackPlan,
  scalableSpec,
} from "./stack-plan.ts";

export const scaleCountMax = 10;
const readyTimeoutMs = 60_000;
const readyPollMs = 200;
const migrateTimeoutMs = 120_000;

/** Starts the stack in dependency order and scales streamers/collectors while it runs. */
export class DevStack {
  constructor(
    private readonly plan: StackPlan,
    private readonly supervisor: ProcessSupervisor,
    private readonly logger: Logger,
  ) {}

  async start(counts: { streamers: number; collectors: number }): Promise<void> {
    await this.startAndWait(clickhouseSpec(this.plan), "/ping");
    await this.migrate();
    await this.startAndWait(brokerSpec(this.plan), "/health");
    await this.startAndWait(apiSpec(this.plan), "/health");
    await this.scale("collector", counts.collectors);
    await this.scale("streamer", counts.streamers);
  }

  /** Adds or removes processes of one kind until `count` run; returns the new count. */
  async scale(kind: ScalableKind, count: number): Promise<number> {
    if (!Number.isInteger(count) || count < 0 || count > scaleCountMax) {
      throw new RangeError(`${kind} count must be an integer from 0 to ${scaleCountMax}, got ${count}`);
    }
    const running = this.ordinals(kind);
    for (let ordinal = 1; running.length < count; ordinal += 1) {
      if (running.includes(ordinal)) continue;
      this.supervisor.start(scalableSpec(this.plan, kind, ordinal));
      running.push(ordinal);
    }
    const surplus = running.sort((a, b) => b - a).slice(0, Math.max(0, running.length - count));
    await Promise.all(surplus.map((ordinal) => this.supervisor.stop(`${kind}-${ordinal}`)));
    this.logger.info({ kind, count }, `scaled ${kind}s to ${count}`);
    return count;
  }

  count(kind: ScalableKind): number {
    return this.ordinals(kind).length;
  }

  private ordinals(kind: ScalableKind): number[] {
    return this.supervisor.names(kind).map((name) => Number(name.slice(kind.length + 1)));
  }

  /** Applies the schema and the retention once, before anything that reads or writes it. */
  private async migrate(): Promise<void> {
    const spec = migrateSpec(this.plan);
    const { code, lastLines } = await this.supervisor.runToEnd(spec, migrateTimeoutMs);
    if (code !== 0) throw new Error(`migrate exited with code ${code}; see ${spec.logFile}: ${lastLines.join(" | ")}`);
    this.logger.info({}, "ClickHouse schema applied");
  }

  private async startAndWait(spec: ProcessSpec, path: string): Promise<void> {
    this.supervisor.start(spec);
    const url = `http://127.0.0.1:${spec.httpPort}${path}`;
    const deadline = performance.now() + readyTimeoutMs;
    while (performance.now() < deadline) {
      if ((await fetchText(url, 1_000)) !== undefined) return;
      await Bun.sleep(readyPollMs);
    }
    throw new Error(`${spec.name} did not answer ${url} within ${readyTimeoutMs} ms; see ${spec.logFile}`);
  }
}
