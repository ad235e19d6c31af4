/** Polling interval and bound for {@link waitForMetricValue}. */
const pollIntervalMs = 10;
const pollAttemptsMax = 500;

/** The value of the first series of `name` in a Prometheus text page, or undefined. */
export function metricValue(page: string, name: string): number | undefined {
  const line = page
    .split("\n")
    .find((candidate) => candidate.startsWith(`${name}{`) || candidate.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(" ").at(-1));
}

/**
 * Polls `${baseUrl}/metrics` until the first series of `name` equals `value`;
 * throws after about 5 s. Lets a test wait for a server-side state (a busy engine,
 * a queue length) instead of sleeping.
 */
export async function waitForMetricValue(baseUrl: string, name: string, value: number): Promise<void> {
  let last: number | undefined;
  for (let attempt = 0; attempt < pollAttemptsMax; attempt++) {
    last = metricValue(await (await fetch(`${baseUrl}/metrics`)).text(), name);
    if (last === value) return;
    await Bun.sleep(pollIntervalMs);
  }
  throw new Error(`${name} at ${baseUrl}/metrics stayed ${String(last)}, expected ${value}`);
}
