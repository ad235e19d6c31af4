import { createServer } from "node:net";

/**
 * A TCP port that was free a moment ago on `host` (the OS picks it). Another process
 * can take it before you bind it, so prefer passing port 0 to a server you start
 * yourself and reading back the port it got; use this when a child process needs
 * its port on the command line.
 */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        server.close();
        reject(new Error(`freePort: unexpected address ${String(address)} on ${host}`));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}

/**
 * `count` consecutive TCP ports that were all free a moment ago, for processes that
 * take "base + n" ports (the dev stack's streamers and collectors).
 */
export async function freePortRange(count: number, host = "127.0.0.1"): Promise<number> {
  const attemptsMax = 50;
  for (let attempt = 0; attempt < attemptsMax; attempt += 1) {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    if (await allFree(base, count, host)) return base;
  }
  throw new Error(`freePortRange: no ${count} consecutive free ports found in ${attemptsMax} attempts`);
}

async function allFree(base: number, count: number, host: string): Promise<boolean> {
  for (let port = base; port < base + count; port += 1) {
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once("error", () => resolve(false));
      server.listen(port, host, () => server.close(() => resolve(true)));
    });
    if (!free) return false;
  }
  return true;
}
