import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { readBodyBounded } from "../../../src/http/bounded-body.ts";

/**
 * The few Kubernetes API calls discovery needs: paged LIST requests, authenticated
 * the way a pod is (its service account's token, re-read before every request
 * because the kubelet rotates it, and the cluster CA). An `http://` API URL (a
 * `kubectl proxy`, a test server) is used without TLS; a missing token file sends no
 * Authorization header.
 */

export interface KubernetesApiOptions {
  /** https://host:port of the API server (in a pod: from KUBERNETES_SERVICE_HOST/PORT). */
  apiUrl: string;
  /** The pod's service account: `token`, `ca.crt`, `namespace`. */
  serviceAccountDir: string;
  requestTimeoutMs: number;
  /** Bytes of one page's answer; more is an error, not a slow parse. */
  responseBytesMax: number;
  /** Items asked for per page (`limit`). */
  pageItemsMax: number;
  /** Pages one list may take (`continue`); more is an error naming the bound. */
  pagesMax: number;
}

/** The API server answered with an error status (or not at all: status 0). */
export class KubernetesApiError extends Error {
  override name = "KubernetesApiError";
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export const serviceAccountDirDefault = "/var/run/secrets/kubernetes.io/serviceaccount";

/** The in-cluster API URL from the variables the kubelet sets in every pod. */
export function inClusterApiUrl(host: string, port: string): string {
  if (host === "") {
    throw new Error(
      "KUBERNETES_SERVICE_HOST is not set: not running in a pod? Set STREAMER_KUBERNETES_API_URL (e.g. a kubectl proxy)",
    );
  }
  const bracketed = host.includes(":") ? `[${host}]` : host;
  return `https://${bracketed}:${port === "" ? "443" : port}`;
}

/** The namespace the pod runs in, from its service account directory. */
export function podNamespace(serviceAccountDir: string): string {
  const path = join(serviceAccountDir, "namespace");
  if (!existsSync(path)) {
    throw new Error(`${path} does not exist: set STREAMER_EXPORTER_NAMESPACE (not running in a pod?)`);
  }
  return readFileSync(path, "utf8").trim();
}

interface ListPage {
  items?: unknown;
  metadata?: { continue?: unknown };
}

export class KubernetesApi {
  constructor(private readonly options: KubernetesApiOptions) {
    if (!URL.canParse(options.apiUrl)) throw new Error(`Kubernetes API URL "${options.apiUrl}" is not a URL`);
    if (options.pagesMax < 1 || options.pageItemsMax < 1) throw new Error("pagesMax and pageItemsMax must be >= 1");
  }

  /** Every item of a LIST at `path` (e.g. /api/v1/namespaces/x/pods), page after page. */
  async list(path: string, query: Record<string, string>, signal?: AbortSignal): Promise<unknown[]> {
    const items: unknown[] = [];
    let token = "";
    for (let page = 0; page < this.options.pagesMax; page += 1) {
      const params = new URLSearchParams({ ...query, limit: String(this.options.pageItemsMax) });
      if (token !== "") params.set("continue", token);
      const answer = (await this.get(`${path}?${params}`, signal)) as ListPage;
      if (!Array.isArray(answer.items)) throw new KubernetesApiError(`GET ${path}: the answer has no items list`, 200);
      items.push(...answer.items);
      token = typeof answer.metadata?.continue === "string" ? answer.metadata.continue : "";
      if (token === "") return items;
    }
    throw new KubernetesApiError(`GET ${path}: more than pagesMax ${this.options.pagesMax} pages`, 200);
  }

  private async get(pathAndQuery: string, signal: AbortSignal | undefined): Promise<unknown> {
    const url = new URL(pathAndQuery, this.options.apiUrl);
    const timeout = AbortSignal.timeout(this.options.requestTimeoutMs);
    let response: Response;
    try {
      response = await fetch(url, {
        headers: this.headers(),
        signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
        ...this.tls(url),
      });
    } catch (error) {
      const reason = timeout.aborted ? `timed out after ${this.options.requestTimeoutMs} ms` : String(error);
      throw new KubernetesApiError(`GET ${url.pathname}: ${reason}`, 0);
    }
    let text: string;
    try {
      text = await readBodyBounded(response, this.options.responseBytesMax);
    } catch (error) {
      throw new KubernetesApiError(`GET ${url.pathname}: ${(error as Error).message}`, response.status);
    }
    if (!response.ok) throw new KubernetesApiError(failureMessage(url, response.status, text), response.status);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new KubernetesApiError(`GET ${url.pathname}: the answer is not JSON`, response.status);
    }
  }

  private headers(): Record<string, string> {
    const tokenPath = join(this.options.serviceAccountDir, "token");
    const headers: Record<string, string> = { accept: "application/json" };
    if (existsSync(tokenPath)) headers.authorization = `Bearer ${readFileSync(tokenPath, "utf8").trim()}`;
    return headers;
  }

  private tls(url: URL): { tls?: { ca: string } } {
    const caPath = join(this.options.serviceAccountDir, "ca.crt");
    if (url.protocol !== "https:" || !existsSync(caPath)) return {};
    return { tls: { ca: readFileSync(caPath, "utf8") } };
  }
}

/** The API server's Status message, and what a 401/403 usually means for a pod. */
function failureMessage(url: URL, status: number, text: string): string {
  let message = text.slice(0, 300);
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed.message === "string") message = parsed.message;
  } catch {
    // Not a Status object: the raw text says what there is.
  }
  const hint =
    status === 403
      ? " (the service account lacks list on this resource: check the chart's Role/ClusterRole)"
      : status === 401
        ? " (the service account token was refused)"
        : "";
  return `GET ${url.pathname}: HTTP ${status}: ${message}${hint}`;
}
