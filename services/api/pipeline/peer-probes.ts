/**
 * The processes of the pipeline the API was told about (API_PEER_URLS), each probed
 * for readiness: a URL with a path is asked as it is (e.g. ClickHouse's /ping), a bare
 * one at /ready.
 */

export interface Peer {
  name: string;
  url: string;
}

export type PeerStatus = "ready" | "not_ready" | "unreachable" | "unknown";

export interface PeerHealth extends Peer {
  status: PeerStatus;
  checkedAtMs: number | undefined;
  latencyMs: number | undefined;
}

export const peersMax = 64;
const namePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** `name=url,name=url` → peers; a malformed entry is a start-up error that names it. */
export function parsePeers(text: string): Peer[] {
  const entries = text
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  if (entries.length > peersMax) throw new Error(`API_PEER_URLS lists ${entries.length} peers, at most ${peersMax}`);
  const peers = entries.map((entry) => {
    const equals = entry.indexOf("=");
    const name = entry.slice(0, equals);
    const url = entry.slice(equals + 1);
    if (equals < 1 || !namePattern.test(name) || !/^https?:\/\/[^\s/]+(\/\S*)?$/.test(url)) {
      throw new Error(`API_PEER_URLS entry ${JSON.stringify(entry)} is not name=http(s)://host:port[/path]`);
    }
    return { name, url: url.replace(/\/+$/, "") };
  });
  const names = new Set(peers.map((peer) => peer.name));
  if (names.size !== peers.length) throw new Error("API_PEER_URLS names a peer twice");
  return peers;
}

export function probeUrl(peer: Peer): string {
  return new URL(peer.url).pathname.length > 1 ? peer.url : `${peer.url}/ready`;
}

export async function probe(peer: Peer, timeoutMs: number, clock: () => number): Promise<PeerHealth> {
  const startedMs = performance.now();
  let status: PeerStatus;
  try {
    const response = await fetch(probeUrl(peer), { signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    status = response.ok ? "ready" : "not_ready";
  } catch {
    status = "unreachable";
  }
  return { ...peer, status, checkedAtMs: clock(), latencyMs: Math.round(performance.now() - startedMs) };
}
