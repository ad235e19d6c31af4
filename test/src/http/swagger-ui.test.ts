import { describe, expect, test } from "bun:test";
import { Elysia, t } from "elysia";
import { swaggerUi, swaggerUiAssets } from "../../../src/http/swagger-ui.ts";

const app = new Elysia()
  .use(swaggerUi({ path: "/docs", documentation: { info: { title: "Test service", version: "1" } } }))
  .get("/things/:id", ({ params }) => ({ id: params.id }), {
    params: t.Object({ id: t.String() }),
    detail: { summary: "One thing" },
  });

const get = (path: string) => app.handle(new Request(`http://127.0.0.1${path}`));

describe("swaggerUi", () => {
  test("the page loads Swagger UI from this process only", async () => {
    const response = await get("/docs");
    expect(response.status).toBe(200);
    const html = await response.text();
    const references = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]);
    expect(references.sort()).toEqual(["/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"]);
    expect(html).not.toMatch(/https?:\/\//);
    // No validator badge: it would send the document to validator.swagger.io.
    expect(html).toContain('"validatorUrl":"none"');
  });

  test("serves the assets the page names, from swagger-ui-dist", async () => {
    const script = await get("/docs/assets/swagger-ui-bundle.js");
    expect(script.status).toBe(200);
    expect(script.headers.get("content-type")).toContain("javascript");
    expect(await script.text()).toContain("SwaggerUIBundle");
    const css = await get("/docs/assets/swagger-ui.css");
    expect(css.headers.get("content-type")).toContain("text/css");
    expect(Object.keys(swaggerUiAssets)).toContain("favicon-32x32.png");
    // Browsers ask for it on every page; a 404 would be a console error.
    const icon = await get("/favicon.ico");
    expect([icon.status, icon.headers.get("content-type")]).toEqual([200, "image/png"]);
  });

  test("serves nothing else from the package or the disk", async () => {
    for (const name of ["package.json", "index.html", "..%2F..%2Fpackage.json", "toString", "__proto__"]) {
      expect((await get(`/docs/assets/${name}`)).status).toBe(404);
    }
  });

  test("the document lists the routes but not its own pages", async () => {
    const document = (await (await get("/docs/json")).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(document.openapi).toBe("3.1.0");
    expect(Object.keys(document.paths)).toEqual(["/things/{id}"]);
  });
});
