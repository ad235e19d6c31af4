/** Sums of selected series from a Prometheus text page, for the dev status panel. */
export function sumSeries(text: string, metricName: string, labelFilter?: string): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(metricName)) continue;
    const rest = line.slice(metricName.length);
    if (rest[0] !== "{" && rest[0] !== " ") continue;
    if (labelFilter !== undefined && !rest.includes(labelFilter)) continue;
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (Number.isFinite(value)) total += value;
  }
  return total;
}

/** GET a URL's text with a timeout; undefined when it does not answer. */
export async function fetchText(url: string, timeoutMs: number): Promise<string | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) return undefined;
    return await response.text();
  } catch {
    return undefined;
  }
}
