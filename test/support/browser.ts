/**
 * Headless Chromium from Debian (`chromium`, installed by ensure-system-packages.sh),
 * driven by playwright-core, for the browser tests. Every request the pages make is
 * intercepted: one for another host than 127.0.0.1 is refused and recorded, so a test
 * can assert that nothing leaves the machine. Console errors and page errors are
 * recorded too.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";

export const chromiumPath = "/usr/bin/chromium";
export const chromiumFlags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"];

export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  /** URLs of requests for another host than 127.0.0.1, refused. */
  outsideRequests: string[];
  /** Console errors and uncaught page errors, with the page URL. */
  errors: string[];
  close(): Promise<void>;
}

export async function openBrowser(viewport = { width: 1400, height: 900 }): Promise<TestBrowser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(
      `${chromiumPath} is missing: run bash test/support/ensure-system-packages.sh (Debian package chromium)`,
    );
  }
  const userDataDir = mkdtempSync(join(tmpdir(), "chromium-profile-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    args: [...chromiumFlags],
    viewport,
    deviceScaleFactor: 1,
  });
  const outsideRequests: string[] = [];
  const errors: string[] = [];
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === "127.0.0.1") return route.continue();
    outsideRequests.push(url.href);
    return route.abort("blockedbyclient");
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(`${page.url()}: console error: ${message.text()}`);
  });
  page.on("pageerror", (error) => errors.push(`${page.url()}: ${error.message}`));
  return {
    context,
    page,
    outsideRequests,
    errors,
    close: async () => {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
