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
