/**
 * Sends `count` records with at most `pendingMax` unanswered, the way a pipelining
 * client runs flat out: when the window is full it waits for its older half only,
 * so the connection never drains empty between windows.
 */
export async function sendWindowed(
  count: number,
  pendingMax: number,
  send: (index: number) => Promise<unknown>,
): Promise<void> {
  if (!Number.isInteger(pendingMax) || pendingMax < 2)
    throw new Error(`sendWindowed: pendingMax must be an integer >= 2, got ${pendingMax}`);
  const window: Promise<unknown>[] = [];
  for (let index = 0; index < count; index += 1) {
    window.push(send(index));
    if (window.length >= pendingMax) await Promise.all(window.splice(0, pendingMax / 2));
  }
  await Promise.all(window);
}
