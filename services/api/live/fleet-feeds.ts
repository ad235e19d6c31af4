import type { Logger } from "../../../src/observability/logger.ts";
import { sleep } from "../../../src/runtime/sleep.ts";
import type { FleetChanges, FleetGpu } from "../api-models.ts";
import type { FleetAnswer, FleetRequest } from "../routes/fleet-routes.ts";
import type { EventStream } from "./event-stream.ts";
import type { StreamHub } from "./stream-hub.ts";

export interface FleetFeedsOptions {
  hub: StreamHub;
  /** The same shared read GET /api/v1/fleet uses: a feed and the requests arriving with it share one query. */
  read: (request: FleetRequest) => Promise<FleetAnswer>;
  logger: Logger;
}

/** Each GPU as last sent, by UUID, as JSON text (what a change is judged by). */
type Sent = Map<string, string>;

interface Feed {
  request: FleetRequest;
  intervalMs: number;
  subscribers: Set<EventStream>;
  /** Subscribers that still need a whole snapshot before changes mean anything to them. */
  waiting: Set<EventStream>;
  sent: Sent | undefined;
  lastSnapshot: string | undefined;
}

/**
 * The fleet streams: one feed per distinct filter and interval, however many clients
 * watch it. A feed reads the fleet once per interval (at most once a second) while it
 * has subscribers, sends each new subscriber the whole snapshot, and everyone the
 * GPUs that changed since the previous read. So a thousand open dashboards cost one
 * query a second, not a thousand.
 */
export class FleetFeeds {
  private readonly feeds = new Map<string, Feed>();
  private readonly stopping = new AbortController();

  constructor(private readonly options: FleetFeedsOptions) {}

  get feedCount(): number {
    return this.feeds.size;
  }

  subscribe(stream: EventStream, request: FleetRequest, intervalMs: number): void {
    const key = JSON.stringify([request, intervalMs]);
    const existing = this.feeds.get(key);
    if (existing !== undefined) {
      existing.subscribers.add(stream);
      if (existing.lastSnapshot === undefined) existing.waiting.add(stream);
      else this.options.hub.send(stream, "snapshot", existing.lastSnapshot);
      return;
    }
    // Subscribed before the loop starts: it runs while there are subscribers.
    const feed: Feed = {
      request,
      intervalMs,
      subscribers: new Set([stream]),
      waiting: new Set([stream]),
      sent: undefined,
      lastSnapshot: undefined,
    };
    this.feeds.set(key, feed);
    void this.run(key, feed);
  }

  unsubscribe(stream: EventStream): void {
    for (const feed of this.feeds.values()) {
      feed.subscribers.delete(stream);
      feed.waiting.delete(stream);
    }
  }

  stop(): void {
    this.stopping.abort();
  }

  private async run(key: string, feed: Feed): Promise<void> {
    const signal = this.stopping.signal;
    while (feed.subscribers.size > 0 && !signal.aborted) {
      const startedMs = performance.now();
      try {
        this.deliver(feed, await this.options.read(feed.request));
      } catch (error) {
        this.options.logger.warn(
          { err: error instanceof Error ? error.message : String(error) },
          "fleet feed read failed",
        );
        const data = JSON.stringify({ message: "the fleet could not be read; retrying" });
        for (const stream of feed.subscribers) this.options.hub.send(stream, "unavailable", data);
      }
      await sleep(Math.max(0, feed.intervalMs - (performance.now() - startedMs)), signal);
    }
    this.feeds.delete(key);
  }

  private deliver(feed: Feed, answer: FleetAnswer): void {
    const sent: Sent = new Map();
    const changed: FleetGpu[] = [];
    for (const item of answer.snapshot.items) {
      const text = JSON.stringify(item);
      sent.set(item.uuid, text);
      if (feed.sent?.get(item.uuid) !== text) changed.push(item);
    }
    const removed = feed.sent === undefined ? [] : [...feed.sent.keys()].filter((uuid) => !sent.has(uuid));
    const previous = feed.sent;
    feed.sent = sent;
    feed.lastSnapshot = answer.json.text;
    for (const stream of feed.waiting) this.options.hub.send(stream, "snapshot", answer.json.text);
    const fresh = new Set(feed.waiting);
    feed.waiting.clear();
    if (previous === undefined || (changed.length === 0 && removed.length === 0)) return;
    const { generated_at, stale_after_ms, metrics, truncated } = answer.snapshot;
    const changes: FleetChanges = { generated_at, stale_after_ms, metrics, truncated, items: changed, removed };
    const data = JSON.stringify(changes);
    for (const stream of feed.subscribers) if (!fresh.has(stream)) this.options.hub.send(stream, "changes", data);
  }
}
