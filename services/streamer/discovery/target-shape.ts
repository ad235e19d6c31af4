/**
 * How a discovered endpoint becomes a URL: the port to scrape (a port name, or a
 * number) and the scheme and path of dcgm-exporter's metrics page.
 */

/** A port by name (EndpointSlice port name, container port name) or by number. */
export type PortChoice = string | number;

export interface TargetShape {
  port: PortChoice;
  scheme: "http" | "https";
  path: string;
}

/** STREAMER_EXPORTER_PORT: digits are a number, anything else a name. */
export function parsePortChoice(text: string): PortChoice {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) {
    const port = Number(trimmed);
    if (port < 1 || port > 65_535) throw new Error(`STREAMER_EXPORTER_PORT ${port} is outside 1..65535`);
    return port;
  }
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(trimmed) || trimmed.length > 63) {
    throw new Error(`STREAMER_EXPORTER_PORT "${text}" is neither a port number nor a Kubernetes port name`);
  }
  return trimmed;
}

/** The path segment of a namespaced list: "" for every namespace ("*"). */
export function namespacePath(namespace: string): string {
  return namespace === "*" ? "" : `/namespaces/${encodeURIComponent(namespace)}`;
}
