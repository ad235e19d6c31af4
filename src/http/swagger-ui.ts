import { dirname, join } from "node:path";
import { openapi } from "@elysiajs/openapi";
import { Elysia } from "elysia";
import { openAccess } from "./route-security.ts";

/**
 * Swagger UI and the OpenAPI document of a process, with every asset served by the
 * process itself from `node_modules/swagger-ui-dist`: GPU clusters are often
 * air-gapped, and a page that loads its script from a CDN is blank there.
 * @elysiajs/swagger 1.3 hard-codes unpkg.com for Swagger UI's script, so this uses its
 * successor @elysiajs/openapi, whose `cdn` and `theme` options take our own paths.
 */

export interface SwaggerUiOptions {
  /** Where the page is served, e.g. /swagger; the document is at `${path}/json`. */
  path: string;
  /** The OpenAPI document's info, tags and the like. */
  documentation: NonNullable<Parameters<typeof openapi>[0]>["documentation"];
}

/** The files the page loads, and nothing else from the package, under `${path}/assets/`. */
export const swaggerUiAssets: Readonly<Record<string, string>> = Object.freeze({
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "swagger-ui.css": "text/css; charset=utf-8",
  "favicon-32x32.png": "image/png",
  "favicon-16x16.png": "image/png",
});

const assetsDirectory = dirname(Bun.resolveSync("swagger-ui-dist/package.json", import.meta.dir));

export function swaggerUi(options: SwaggerUiOptions) {
  if (!options.path.startsWith("/") || options.path.endsWith("/"))
    throw new Error(`swagger path must start with / and not end with one, got ${options.path}`);
  const assets = `${options.path}/assets`;
  return (
    new Elysia({ name: `swagger-ui:${options.path}` })
      .use(
        openapi({
          path: options.path,
          specPath: `${options.path}/json`,
          provider: "swagger-ui",
          // Elysia's schemas are JSON Schema (type: "null", $id), which OpenAPI 3.1 adopts.
          openapiVersion: "3.1.0",
          documentation: options.documentation,
          swagger: {
            cdn: `${assets}/swagger-ui-bundle.js`,
            theme: `${assets}/swagger-ui.css`,
            // The default validator badge would ask validator.swagger.io about the document.
            validatorUrl: "none",
          },
        }),
      )
      .get(`${assets}/:file`, ({ params }) => serveAsset(params.file), { detail: { hide: true, ...openAccess } })
      // Browsers ask every host for one; a 404 there is a console error on the Swagger page.
      .get("/favicon.ico", () => serveAsset("favicon-32x32.png"), { detail: { hide: true, ...openAccess } })
  );
}

function serveAsset(file: string): Response {
  const contentType = swaggerUiAssets[file];
  if (contentType === undefined || !Object.hasOwn(swaggerUiAssets, file)) {
    return Response.json({ error: "not_found", message: `no Swagger UI asset ${file}` }, { status: 404 });
  }
  return new Response(Bun.file(join(assetsDirectory, file)), {
    headers: { "content-type": contentType, "cache-control": "public, max-age=3600" },
  });
}
