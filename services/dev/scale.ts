/** `bun run dev:scale -- collector 3`: asks the running dev stack to scale. */
import { readDevToken } from "./dev-secrets.ts";

const [kind, countText] = process.argv.slice(2);
const port = Number(process.env.DEV_CONTROL_PORT ?? 8099);
if ((kind !== "streamer" && kind !== "collector") || countText === undefined) {
  process.stderr.write("usage: bun run dev:scale -- <streamer|collector> <count 0..10>\n");
  process.exit(2);
}
// The stack's control token: DEV_CONTROL_TOKEN, else the one it wrote under .data/secrets.
const token = process.env.DEV_CONTROL_TOKEN || readDevToken("devControl")?.token;
try {
  const response = await fetch(`http://127.0.0.1:${port}/scale/${kind}?count=${encodeURIComponent(countText)}`, {
    method: "POST",
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  process.stdout.write(`${await response.text()}\n`);
  process.exit(response.ok ? 0 : 1);
} catch {
  process.stderr.write(`no dev stack answers on 127.0.0.1:${port}; start it with: bun run dev\n`);
  process.exit(1);
}
