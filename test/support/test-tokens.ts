import { newToken } from "../../src/auth/token-syntax.ts";

/**
 * Tokens for tests that are not about scopes: the test brokers accept `testBrokerToken`
 * in every scope, and the helpers that start services hand it to them, so the whole
 * suite runs with tokens on, as production does. The 401/403 tests make their own.
 */
export const testBrokerToken = newToken();

/** The broker settings that make `testBrokerToken` valid for produce, consume and admin. */
export const testBrokerTokenEnv: Record<string, string> = {
  BROKER_TOKENS_PRODUCE: testBrokerToken,
  BROKER_TOKENS_CONSUME: testBrokerToken,
  BROKER_TOKENS_ADMIN: testBrokerToken,
};

/** `Authorization: Bearer <token>`, for a raw fetch. */
export function bearer(token: string = testBrokerToken): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}

/** A token the tests' API and streamers accept for read and upload. */
export const testReadToken = newToken();
export const testUploadToken = newToken();

/** fetch with `testBrokerToken`, for raw requests to a test broker (a request's own Authorization wins). */
export function brokerFetch(input: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has("authorization")) headers.set("authorization", `Bearer ${testBrokerToken}`);
  return fetch(input, { ...init, headers });
}
