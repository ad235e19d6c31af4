import type { BrokerConnection } from "../../src/broker-client/connection.ts";
import { Producer } from "../../src/broker-client/producer.ts";
import type { TelemetryPoint } from "../../src/domain/telemetry.ts";
import { encodeTelemetryRecord } from "../../src/telemetry/record-codec.ts";

/** GPUs the chaos load writes as (none of them is in the sample CSV). */
export const chaosGpuCount = 24;
export const chaosUuidPrefix = "GPU-c4a05000-0000-0000-0000-";
const metric = "DCGM_FI_DEV_GPU_UTIL";

/** A chaos record's identity: its GPU and its timestamp (unique per record). */
export function chaosIdentity(uuid: string, tsMs: number): string {
  return `${uuid}|${tsMs}`;
}

/**
 * A steady load of records with known identities next to the streamers' schedule: the
 * broker's acknowledgement of each is seen here, so the reconciliation knows exactly
 * which records were acknowledged, whatever happens to the processes.
 */
export class ChaosLoad {
  readonly acked = new Set<string>();
  sent = 0;
  refused = 0;
  private stopping = false;
  private running: Promise<void> | undefined;
  private lastTsMs = 0;

  private constructor(
    private readonly producer: Producer,
    private readonly rowsPerSecond: number,
  ) {}

  static async start(broker: BrokerConnection, topic: string, rowsPerSecond: number): Promise<ChaosLoad> {
    let load: ChaosLoad | undefined;
    const producer = await Producer.create({
      ...broker,
      topic,
      lingerMs: 5,
      backoff: { backoffMsMin: 50, backoffMsMax: 1_000 },
      deliveryTimeoutMs: 600_000,
      connectTimeoutMs: 60_000,
      onRefused: () => {
        if (load !== undefined) load.refused += 1;
      },
    });
    load = new ChaosLoad(producer, rowsPerSecond);
    load.running = load.run();
    return load;
  }

  /** Stops sending and waits until everything sent is acknowledged. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
    await this.producer.close();
  }

  private async run(): Promise<void> {
    const tickMs = 50;
    const perTick = Math.max(1, Math.round((this.rowsPerSecond * tickMs) / 1_000));
    while (!this.stopping) {
      for (let index = 0; index < perTick; index += 1) this.sendOne();
      await Bun.sleep(tickMs);
    }
  }

  private sendOne(): void {
    const tsMs = Math.max(Date.now(), this.lastTsMs + 1);
    this.lastTsMs = tsMs;
    const gpu = this.sent % chaosGpuCount;
    const uuid = `${chaosUuidPrefix}${String(gpu).padStart(12, "0")}`;
    const point: TelemetryPoint = {
      ts: tsMs,
      source_ts: tsMs,
      uuid,
      hostname: `chaos-${Math.floor(gpu / 8)}`,
      gpu_index: gpu % 8,
      device: `nvidia${gpu % 8}`,
      model: "chaos",
      metric,
      value: this.sent,
      container: "",
      pod: "",
      namespace: "",
      labels: {},
    };
    this.sent += 1;
    void this.producer
      .sendAndWait({ key: uuid, value: encodeTelemetryRecord(point), timestampMs: tsMs })
      .then(() => this.acked.add(chaosIdentity(uuid, tsMs)))
      .catch(() => undefined);
  }
}
