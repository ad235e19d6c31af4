import { join } from "node:path";
import { Elysia } from "elysia";
import { openAccess } from "../../../src/http/route-security.ts";

/**
 * The dashboard at `/`: a page, its script and its stylesheet, all from this process.
 * The client (./client, typed TypeScript with uPlot) is bundled by Bun's bundler the
 * first time it is asked for (main.ts asks at start), and kept in memory; uPlot's CSS
 * comes from node_modules with ours. Nothing is fetched from another host.
 */

const directory = import.meta.dir;

export interface DashboardBundle {
  script: string;
  stylesheet: string;
}

let building: Promise<DashboardBundle> | undefined;

export function dashboardBundle(): Promise<DashboardBundle> {
  building ??= buildDashboard().catch((error: unknown) => {
    building = undefined;
    throw error;
  });
  return building;
}

async function buildDashboard(): Promise<DashboardBundle> {
  const result = await Bun.build({
    entrypoints: [join(directory, "client", "main.ts")],
    target: "browser",
    format: "esm",
    minify: true,
  });
  const output = result.outputs.find((artifact) => artifact.kind === "entry-point");
  if (!result.success || output === undefined) {
    throw new Error(`dashboard bundle failed: ${result.logs.map((log) => String(log)).join("; ")}`);
  }
  const uplotCss = await Bun.file(Bun.resolveSync("uplot/dist/uPlot.min.css", directory)).text();
  const ours = await Bun.file(join(directory, "styles.css")).text();
  return { script: await output.text(), stylesheet: `${uplotCss}\n${ours}` };
}

/** The page and its assets hold no data: open, so a browser can load the page that then asks for a token. */
const hidden = { detail: { hide: true, ...openAccess } } as const;

export function dashboardRoutes() {
  const page = Bun.file(join(directory, "index.html"));
  return new Elysia({ name: "dashboard-routes" })
    .get("/", async () => new Response(await page.text(), { headers: headersFor("text/html; charset=utf-8") }), hidden)
    .get(
      "/dashboard/app.js",
      async () =>
        new Response((await dashboardBundle()).script, { headers: headersFor("text/javascript; charset=utf-8") }),
      hidden,
    )
    .get(
      "/dashboard/app.css",
      async () =>
        new Response((await dashboardBundle()).stylesheet, { headers: headersFor("text/css; charset=utf-8") }),
      hidden,
    );
}

function headersFor(contentType: string): Record<string, string> {
  return { "content-type": contentType, "cache-control": "no-cache" };
}
