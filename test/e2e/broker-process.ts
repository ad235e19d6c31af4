import type { Subprocess } from "bun";

export interface BrokerProcess {
  proc: Subprocess<"ignore", "pipe", "inherit">;
  url: string;
  port: number;
}

const brokerMain = new URL("../../brokers/main.ts", import.meta.url).pathname;
const startTimeoutMs = 15_000;

/** Spawns `bun brokers/main.ts` on a free port and resolves once it logs `listening`. */
export async function spawnBroker(env: Record<string, string>): Promise<BrokerProcess> {
  const proc = Bun.spawn(["bun", brokerMain], {
    env: { ...process.env, BROKER_PORT: "0", BROKER_HOST: "127.0.0.1", LOG_FORMAT: "json", LOG_LEVEL: "info", ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "inherit",
  });
  const port = await readListeningPort(proc);
  return { proc, port, url: `http://127.0.0.1:${port}` };
}

async function readListeningPort(proc: BrokerProcess["proc"]): Promise<number> {
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  const deadline = setTimeout(() => proc.kill(9), startTimeoutMs);
  let text = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`broker exited before listening (code ${proc.exitCode}): ${text.slice(-500)}`);
      text += decoder.decode(value, { stream: true });
      for (const line of text.split("\n")) {
        if (!line.includes('"listening"')) continue;
        const parsed = JSON.parse(line) as { port: number };
        drain(reader);
        return parsed.port;
      }
    }
  } finally {
    clearTimeout(deadline);
  }
}

/** Keeps reading the child's stdout so it never blocks on a full pipe. */
function drain(reader: { read(): Promise<{ done: boolean }> }): void {
  void (async () => {
    try {
      while (!(await reader.read()).done) {
        // discard
      }
    } catch {
      // the process went away
    }
  })();
}
