/** `bun run docs`: rewrites the generated tables in README.md and the chart README. */
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { withCurrentValues } from "./chart-values-doc.ts";
import { chartDir } from "./helm-render.ts";
import { withCurrentConfig } from "./readme-config.ts";

const readmePath = join(resolve(import.meta.dir, "../.."), "README.md");
writeFileSync(readmePath, withCurrentConfig(readFileSync(readmePath, "utf8")));
const chartReadmePath = join(chartDir, "README.md");
writeFileSync(chartReadmePath, withCurrentValues(readFileSync(chartReadmePath, "utf8")));
process.stdout.write(`updated the generated tables in ${readmePath} and ${chartReadmePath}\n`);
