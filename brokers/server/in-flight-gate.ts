/**
 * The broker's memory watermark: bytes of produce bodies held between reading the
 * request and acknowledging it. Above `inFlightBytesMax` a produce is refused with
 * a retryable slow_down instead of buffering without bound.
 */
export class InFlightGate {
  private heldBytes = 0;

  constructor(readonly inFlightBytesMax: number) {
    if (!(inFlightBytesMax > 0)) throw new Error(`inFlightBytesMax must be positive, got ${inFlightBytesMax}`);
  }

  get bytes(): number {
    return this.heldBytes;
  }

  /** Takes `bytes` if they fit under the watermark; a single request alone always fits. */
  tryAcquire(bytes: number): boolean {
    if (bytes < 0) throw new Error(`cannot acquire ${bytes} bytes`);
    if (this.heldBytes > 0 && this.heldBytes + bytes > this.inFlightBytesMax) return false;
    this.heldBytes += bytes;
    return true;
  }

  release(bytes: number): void {
    if (bytes > this.heldBytes) throw new Error(`releasing ${bytes} bytes but only ${this.heldBytes} held`);
    this.heldBytes -= bytes;
  }
}
