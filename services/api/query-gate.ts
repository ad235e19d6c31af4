import { Counter, Gauge, type Registry } from "../../src/observability/metrics.ts";

export interface QueryGateOptions {
  /** ClickHouse queries this process runs at once. */
  inFlightMax: number;
  /** Requests waiting for a slot; one more is refused at once. */
  queueLengthMax: number;
  /** Longest a request waits for a slot before it is refused. */
  waitMsMax: number;
  registry: Registry;
}

/** The API is at its ClickHouse concurrency limit: a 503, retry later. */
export class OverloadedError extends Error {
  override name = "OverloadedError";
}

interface Waiter {
  grant: () => void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * Bounds the ClickHouse work one API process starts. Without it an overloaded
 * ClickHouse turns every request into a long wait (requests pile up in its queue);
 * with it, excess requests get a fast 503 with Retry-After, and the overload shows in
 * metrics (api_clickhouse_rejected_total) instead of in everyone's latency.
 */
export class QueryGate {
  private inFlight = 0;
  private readonly waiters: Waiter[] = [];
  private readonly rejected: Counter<"reason">;

  constructor(private readonly options: QueryGateOptions) {
    for (const [name, value] of Object.entries({
      inFlightMax: options.inFlightMax,
      queueLengthMax: options.queueLengthMax,
      waitMsMax: options.waitMsMax,
    })) {
      if (!Number.isInteger(value) || value < 1)
        throw new RangeError(`QueryGate ${name} must be a positive integer, got ${value}`);
    }
    const registers = [options.registry];
    this.rejected = new Counter({
      name: "api_clickhouse_rejected_total",
      help: "requests refused with 503 because the ClickHouse concurrency limit was reached",
      labelNames: ["reason"],
      registers,
    });
    const gate = this;
    new Gauge({
      name: "api_clickhouse_in_flight_queries",
      help: "ClickHouse queries running",
      registers,
      collect() {
        this.set(gate.inFlight);
      },
    });
    new Gauge({
      name: "api_clickhouse_queued_requests",
      help: "requests waiting for a ClickHouse slot",
      registers,
      collect() {
        this.set(gate.waiters.length);
      },
    });
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  private acquire(): Promise<void> {
    if (this.inFlight < this.options.inFlightMax) {
      this.inFlight += 1;
      return Promise.resolve();
    }
    if (this.waiters.length >= this.options.queueLengthMax) {
      this.rejected.inc({ reason: "queue_full" });
      return Promise.reject(new OverloadedError(`${this.waiters.length} requests already wait for ClickHouse`));
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        grant: resolve,
        timer: setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          this.rejected.inc({ reason: "wait_timeout" });
          reject(new OverloadedError(`waited ${this.options.waitMsMax} ms for a ClickHouse slot`));
        }, this.options.waitMsMax),
      };
      this.waiters.push(waiter);
    });
  }

  /** A freed slot goes straight to the oldest waiter, so inFlight never exceeds its maximum. */
  private release(): void {
    const next = this.waiters.shift();
    if (next === undefined) {
      this.inFlight -= 1;
      if (this.inFlight < 0)
        throw new Error(`QueryGate released more slots than it granted (inFlight ${this.inFlight})`);
      return;
    }
    clearTimeout(next.timer);
    next.grant();
  }
}
