/**
 * Paced produce for the ack-latency figure: starts record `index` when its time
 * comes at `ratePerSecond` and records each send-to-ack latency (ms). Every peer
 * uses this loop (ours has the same shape) so pacing is the same for all.
 */
export async function pacedSends(
  ratePerSecond: number,
  seconds: number,
  send: (index: number) => Promise<unknown>,
): Promise<Float64Array> {
  const total = ratePerSecond * seconds;
  const latencies = new Float64Array(total);
  const acks: Promise<unknown>[] = [];
  const startMs = performance.now();
  for (let index = 0; index < total; ) {
    const due = Math.min(total, Math.floor(((performance.now() - startMs) / 1000) * ratePerSecond));
    for (; index < due; index += 1) {
      const sentMs = performance.now();
      const slot = index;
      acks.push(send(index).then(() => (latencies[slot] = performance.now() - sentMs)));
    }
    await Bun.sleep(1);
  }
  await Promise.all(acks);
  return latencies;
}
