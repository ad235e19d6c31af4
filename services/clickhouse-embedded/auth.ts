import { timingSafeEqual } from "node:crypto";
import { endpointError } from "./errors.ts";

export interface AuthOptions {
  user: string;
  /** Never empty in the endpoint (main.ts generates one); empty accepts any credentials, for in-process tests only. */
  password: string;
}

interface Credentials {
  user: string;
  password: string;
}

/** Credentials the way ClickHouse accepts them: Basic auth, X-ClickHouse-User/Key, or user/password params. */
function credentialsOf(headers: Headers, searchParams: URLSearchParams): Credentials {
  const authorization = headers.get("authorization") ?? "";
  if (authorization.toLowerCase().startsWith("basic ")) {
    const decoded = Buffer.from(authorization.slice("basic ".length).trim(), "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon >= 0) return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    return { user: decoded, password: "" };
  }
  return {
    user: headers.get("x-clickhouse-user") ?? searchParams.get("user") ?? "default",
    password: headers.get("x-clickhouse-key") ?? searchParams.get("password") ?? "",
  };
}

function sameText(left: string, right: string): boolean {
  const a = Buffer.from(left);
  const b = Buffer.from(right);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Throws AUTHENTICATION_FAILED (403) when a password is configured and the request's credentials differ. */
export function checkAuth(headers: Headers, searchParams: URLSearchParams, options: AuthOptions): void {
  if (options.password === "") return;
  const given = credentialsOf(headers, searchParams);
  if (sameText(given.user, options.user) && sameText(given.password, options.password)) return;
  throw endpointError(
    "AUTHENTICATION_FAILED",
    `${given.user}: Authentication failed: password is incorrect, or there is no user with such name`,
  );
}
