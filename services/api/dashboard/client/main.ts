import { getJson } from "./fetch-json.ts";
import { fleetPage } from "./fleet-page.ts";
import { gpuPage } from "./gpu-page.ts";
import type { Page } from "./page.ts";
import { pipelinePage } from "./pipeline-page.ts";

/** Hash routes: #/ (fleet), #/gpu/<uuid>, #/pipeline; each may carry ?query parameters. */
const main = document.querySelector<HTMLElement>("main");
let current: Page | undefined;

function route(): void {
  if (main === null) return;
  current?.unmount();
  main.replaceChildren();
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path = "/", search = ""] = hash.split("?", 2);
  const params = new URLSearchParams(search);
  const gpu = /^\/gpu\/(.+)$/.exec(path);
  for (const link of document.querySelectorAll<HTMLAnchorElement>("nav a[data-route]")) {
    link.classList.toggle(
      "active",
      link.dataset.route === (gpu !== null ? "fleet" : path === "/pipeline" ? "pipeline" : "fleet"),
    );
  }
  if (gpu !== null) current = gpuPage(main, decodeURIComponent(gpu[1] ?? ""), params);
  else if (path === "/pipeline") current = pipelinePage(main);
  else current = fleetPage(main, params);
}

/**
 * Before the first page opens its event streams (which cannot ask for a token), one
 * plain request makes sure this tab can read: it asks for a token when the API keeps
 * scope read closed, and passes at once when read is open.
 */
async function start(): Promise<void> {
  try {
    await getJson("/api/v1/metrics");
  } catch {
    // Anything but a missing token (ClickHouse down, say) is the pages' to show.
  }
  window.addEventListener("hashchange", route);
  route();
}

void start();
