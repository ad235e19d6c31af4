/**
 * One dcgm-exporter endpoint a streamer may scrape. Targets are owned through the
 * `streamers` group: a target belongs to the topic partition its URL hashes to (the
 * producer's partitioner, so every streamer computes the same slot), and only the
 * streamer that owns that partition scrapes it.
 */
export interface ExporterTarget {
  /** The URL scraped; also the key its ownership slot is hashed from. */
  url: string;
  /** Where the target came from, for logs: `static`, or the pod (namespace/name) behind it. */
  origin: string;
}

/** Targets one discovery may return; past it the rest are dropped and said so. */
export const targetsMax = 10_000;

/** scheme://host:port/path with an IPv6 address in brackets. */
export function targetUrl(parts: { scheme: string; host: string; port: number; path: string }): string {
  const host = parts.host.includes(":") && !parts.host.startsWith("[") ? `[${parts.host}]` : parts.host;
  const path = parts.path.startsWith("/") ? parts.path : `/${parts.path}`;
  return `${parts.scheme}://${host}:${parts.port}${path}`;
}

/** Sorted by URL and without repeats: the same set always compares equal. */
export function normalizeTargets(targets: readonly ExporterTarget[]): ExporterTarget[] {
  const byUrl = new Map<string, ExporterTarget>();
  for (const target of targets) if (!byUrl.has(target.url)) byUrl.set(target.url, target);
  return [...byUrl.values()].sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0));
}

/** STREAMER_EXPORTER_URLS as targets; a malformed URL is an error naming it. */
export function staticTargets(list: string): ExporterTarget[] {
  const urls = list
    .split(",")
    .map((url) => url.trim())
    .filter((url) => url.length > 0);
  for (const url of urls) {
    if (!URL.canParse(url)) throw new Error(`STREAMER_EXPORTER_URLS: "${url}" is not a URL`);
    const protocol = new URL(url).protocol;
    if (protocol !== "http:" && protocol !== "https:") {
      throw new Error(`STREAMER_EXPORTER_URLS: "${url}" must be http or https`);
    }
  }
  if (urls.length > targetsMax) {
    throw new Error(`STREAMER_EXPORTER_URLS lists ${urls.length} targets, more than ${targetsMax}`);
  }
  return normalizeTargets(urls.map((url) => ({ url, origin: "static" })));
}
