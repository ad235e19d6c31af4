/**
 * A child process of bench:dashboard: opens one datapoint stream per GPU given, reads
 * events for the given seconds, and prints one JSON line: events and datapoints
 * received, delivery lags (receipt time − the datapoint's timestamp, ms, sorted), and
 * streams that failed or ended early.
 *
 *   bun sse-clients.ts <api url> <seconds> <uuid> [<uuid> ...]
 */

const [apiUrl = "", secondsText = "0", ...uuids] = process.argv.slice(2);
const deadlineMs = performance.now() + Number(secondsText) * 1_000;
const lags: number[] = [];
let events = 0;
let failed = 0;
let endedEarly = 0;

async function follow(uuid: string): Promise<void> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), Math.max(0, deadlineMs - performance.now()));
  try {
    const response = await fetch(`${apiUrl}/api/v1/datapoints/stream?gpu=${uuid}`, { signal: abort.signal });
    if (!response.ok || response.body === null) {
      failed += 1;
      return;
    }
    const decoder = new TextDecoder();
    let text = "";
    for await (const chunk of response.body) {
      text += decoder.decode(chunk, { stream: true });
      let boundary = text.indexOf("\n\n");
      while (boundary !== -1) {
        receive(text.slice(0, boundary));
        text = text.slice(boundary + 2);
        boundary = text.indexOf("\n\n");
      }
    }
    if (performance.now() < deadlineMs - 100) endedEarly += 1;
  } catch (error) {
    if (!abort.signal.aborted) failed += 1;
    void error;
  } finally {
    clearTimeout(timer);
  }
}

function receive(block: string): void {
  if (!block.startsWith("event: datapoints")) return;
  const nowMs = Date.now();
  const data = block.slice(block.indexOf("data: ") + 6);
  const batch = JSON.parse(data) as { items: { timestamp: string }[] };
  events += 1;
  for (const item of batch.items) lags.push(nowMs - Date.parse(item.timestamp));
}

await Promise.all(uuids.map((uuid) => follow(uuid)));
lags.sort((a, b) => a - b);
process.stdout.write(
  `${JSON.stringify({ streams: uuids.length, events, datapoints: lags.length, failed, endedEarly, lags })}\n`,
);

export {};
