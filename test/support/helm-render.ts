import { existsSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "../..");
export const chartDir = join(root, "deploy/helm/gpu-telemetry");
const rendererSource = join(root, "deploy/helm/render/main.go");
const goPath = "/usr/share/gocode";

/**
 * Builds deploy/helm/render (Go text/template + Sprig + Helm's functions) once per
 * process. It needs Debian's golang-go and golang-github-masterminds-sprig-dev,
 * which test/support/ensure-system-packages.sh installs.
 */
let binary: string | undefined;
function rendererBinary(): string {
  if (binary !== undefined) return binary;
  if (!existsSync(join(goPath, "src/github.com/Masterminds/sprig"))) {
    throw new Error(
      "Sprig is missing: run `bash test/support/ensure-system-packages.sh` (Debian golang-github-masterminds-sprig-dev)",
    );
  }
  const outDir = join(tmpdir(), "gpu-telemetry-helm-render");
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, `render-${process.pid}`);
  const build = Bun.spawnSync(["go", "build", "-o", out, rendererSource], {
    env: { ...process.env, GOPATH: goPath, GO111MODULE: "off", GOFLAGS: "-mod=mod", GOCACHE: join(outDir, "cache") },
    stderr: "pipe",
  });
  if (build.exitCode !== 0) throw new Error(`go build of the chart renderer failed: ${build.stderr.toString()}`);
  binary = out;
  return out;
}

export interface RenderResult {
  ok: boolean;
  /** Template path → rendered text (empty when rendering failed). */
  templates: Record<string, string>;
  error: string;
}

/**
 * Renders the chart like `helm template` with the given extra values files; with
 * `existingObjects` (a JSON file of objects) `lookup` finds those, as on an upgrade.
 */
export function renderChart(valuesFiles: string[] = [], existingObjects?: string): RenderResult {
  const args = [rendererBinary(), "-chart", chartDir];
  for (const file of valuesFiles) args.push("-values", file);
  if (existingObjects !== undefined) args.push("-existing", existingObjects);
  const run = Bun.spawnSync(args, { stdout: "pipe", stderr: "pipe" });
  if (run.exitCode !== 0) return { ok: false, templates: {}, error: run.stderr.toString() };
  return { ok: true, templates: JSON.parse(run.stdout.toString()) as Record<string, string>, error: "" };
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  [key: string]: unknown;
}

/** Every YAML document of every rendered manifest (NOTES.txt excluded). */
export function manifests(templates: Record<string, string>): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const [path, text] of Object.entries(templates)) {
    if (!path.endsWith(".yaml")) continue;
    const parsed = Bun.YAML.parse(text) as unknown;
    const documents = Array.isArray(parsed) ? parsed : [parsed];
    for (const document of documents) {
      if (document !== null && document !== undefined) objects.push(document as K8sObject);
    }
  }
  return objects;
}
