import { describe, expect, test } from "bun:test";
import { dashboardBundle, dashboardRoutes } from "../../../../services/api/dashboard/dashboard-routes.ts";

const app = dashboardRoutes();
const get = (path: string) => app.handle(new Request(`http://127.0.0.1${path}`));

describe("the dashboard's files", () => {
  test("/ is the page, and it loads only this process's script and stylesheet", async () => {
    const response = await get("/");
    expect(response.headers.get("content-type")).toContain("text/html");
    const html = await response.text();
    const references = [...html.matchAll(/(?:src|href)="([^"#]+)"/g)].map((match) => match[1]);
    expect(references.sort()).toEqual(["/dashboard/app.css", "/dashboard/app.js", "/swagger", "data:,"]);
  });

  test("the script is the client bundled with uPlot; the stylesheet has uPlot's and ours", async () => {
    const script = await get("/dashboard/app.js");
    expect(script.headers.get("content-type")).toContain("javascript");
    const text = await script.text();
    expect(text).toContain("u-legend");
    expect(text).toContain("/api/v1/fleet/stream");
    // One self-contained file: no import left for the browser to resolve.
    expect(/^\s*import[\s{*"']/m.test(text)).toBe(false);
    const css = await (await get("/dashboard/app.css")).text();
    expect(css).toContain(".uplot");
    expect(css).toContain(".fleet-grid");
    expect((await dashboardBundle()).script).toBe(text);
  });
});
