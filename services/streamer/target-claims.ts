import { partitionForKey } from "../../src/broker-protocol/partitioner.ts";
import type { OwnershipView } from "./batch-producer.ts";
import type { ExporterTarget } from "./discovery/exporter-target.ts";

/**
 * Which dcgm-exporter targets this streamer scrapes. The `streamers` group divides the
 * topic's partitions among the live streamers (ownership.ts); a target belongs to the
 * partition its URL hashes to (the producer's partitioner, the same in every process),
 * so each target has exactly one owner and ownership moves as streamers come and go.
 *
 * A scrape is claimed before it starts and ended when its rows were handed to the
 * producer. A hand-over calls `release(partitions)` after the flags were cleared (no
 * new claim of them succeeds) and before the producer is flushed: fetches still
 * waiting for their body are aborted (nothing of them was read), scrapes whose body
 * arrived are produced whole, and only then does the next heartbeat give the
 * partitions away. So two streamers never scrape one target at once, and every
 * scrape is produced whole or not at all.
 */

export interface ScrapeClaim {
  readonly target: ExporterTarget;
  readonly slot: number;
  /** Aborted when the target is handed over while its body is still being fetched. */
  readonly signal: AbortSignal;
  /** The body arrived: from now on the scrape finishes even if the target is handed over. */
  fetched(): void;
  end(): void;
}

/** Slots remembered per URL; past it a URL is hashed again on every round. */
export const slotsKnownMax = 65_536;

export class TargetClaims {
  private readonly slotOfUrl = new Map<string, number>();
  private readonly inFlight = new Map<string, Claim>();

  constructor(
    private readonly ownership: OwnershipView,
    private readonly clock: () => number,
  ) {}

  /** The partition a target belongs to. */
  slotOf(url: string): number {
    const known = this.slotOfUrl.get(url);
    if (known !== undefined) return known;
    const slot = partitionForKey(url, this.ownership.flags.length);
    if (this.slotOfUrl.size < slotsKnownMax) this.slotOfUrl.set(url, slot);
    return slot;
  }

  /** True while this streamer owns the target's partition and its session is live. */
  owns(url: string): boolean {
    return this.ownership.flags[this.slotOf(url)] === 1 && this.ownership.live(this.clock());
  }

  /** Targets of `targets` owned now. */
  ownedCount(targets: readonly ExporterTarget[]): number {
    let count = 0;
    for (const target of targets) if (this.owns(target.url)) count += 1;
    return count;
  }

  /** True while a scrape of this URL runs. */
  isScraping(url: string): boolean {
    return this.inFlight.has(url);
  }

  /** Scrapes running now. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** A claim on scraping `target` now, or undefined when it is not ours or is being scraped already. */
  claim(target: ExporterTarget): ScrapeClaim | undefined {
    if (!this.owns(target.url) || this.inFlight.has(target.url)) return undefined;
    const claim = new Claim(target, this.slotOf(target.url), () => this.inFlight.delete(target.url));
    this.inFlight.set(target.url, claim);
    return claim;
  }

  /** Ends the scrapes of these partitions' targets (see the header) and resolves when none is left. */
  async release(partitions: readonly number[]): Promise<void> {
    const slots = new Set(partitions);
    const waiting: Promise<void>[] = [];
    for (const claim of this.inFlight.values()) {
      if (!slots.has(claim.slot)) continue;
      claim.abortUnlessFetched();
      waiting.push(claim.done);
    }
    await Promise.all(waiting);
  }
}

class Claim implements ScrapeClaim {
  readonly done: Promise<void>;
  private readonly controller = new AbortController();
  private bodyArrived = false;
  private resolveDone: () => void = () => undefined;
  private ended = false;

  constructor(
    readonly target: ExporterTarget,
    readonly slot: number,
    private readonly forget: () => void,
  ) {
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  fetched(): void {
    this.bodyArrived = true;
  }

  abortUnlessFetched(): void {
    if (!this.bodyArrived) this.controller.abort();
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.forget();
    this.resolveDone();
  }
}
