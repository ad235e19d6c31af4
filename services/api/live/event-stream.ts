/**
 * One server-sent-events response with a bounded buffer. Bytes wait in the stream's
 * queue until the socket takes them; a client that reads slower than events arrive
 * fills it, and the next event that does not fit ends the stream (the client may
 * reconnect) instead of growing memory without bound.
 */

export interface EventStreamOptions {
  /** Bytes queued for this client at most. */
  bufferBytesMax: number;
  /** Called once when the stream ends, whoever ended it. */
  onClose: (reason: EventStreamCloseReason) => void;
}

export type EventStreamCloseReason = "client" | "overflow" | "server";

const encoder = new TextEncoder();
const headers = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-store",
  connection: "keep-alive",
  // Reverse proxies (nginx) would otherwise hold events back to fill their buffers.
  "x-accel-buffering": "no",
};

export class EventStream {
  readonly response: Response;
  private controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  private ended = false;

  constructor(private readonly options: EventStreamOptions) {
    if (!Number.isSafeInteger(options.bufferBytesMax) || options.bufferBytesMax < 1024)
      throw new RangeError(`EventStream bufferBytesMax must be an integer >= 1024, got ${options.bufferBytesMax}`);
    const stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.controller = controller;
        },
        cancel: () => this.end("client"),
      },
      { highWaterMark: options.bufferBytesMax, size: (chunk) => chunk?.byteLength ?? 0 },
    );
    this.response = new Response(stream, { headers });
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Queues one event; false when the stream is closed or was just closed for overflowing. */
  send(event: string, data: string): boolean {
    return this.write(encoder.encode(`event: ${event}\ndata: ${data}\n\n`));
  }

  /** A comment line: keeps idle connections (and proxies) from timing out. */
  heartbeat(): boolean {
    return this.write(encoder.encode(": keep-alive\n\n"));
  }

  /** Sends a last event if it fits, then ends the response. */
  close(last?: { event: string; data: string }): void {
    if (this.ended) return;
    if (last !== undefined) this.send(last.event, last.data);
    this.end("server");
  }

  private write(bytes: Uint8Array): boolean {
    const controller = this.controller;
    if (this.ended || controller === undefined) return false;
    if ((controller.desiredSize ?? 0) < bytes.byteLength) {
      this.end("overflow");
      return false;
    }
    controller.enqueue(bytes);
    return true;
  }

  private end(reason: EventStreamCloseReason): void {
    if (this.ended) return;
    this.ended = true;
    if (reason !== "client") {
      try {
        this.controller?.close();
      } catch {
        // Already closed or errored by the runtime.
      }
    }
    this.options.onClose(reason);
  }
}
