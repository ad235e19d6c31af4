import { ApiRequestError } from "./api.ts";
import { askForToken, authorization, forgetToken, promptsMax, storedToken } from "./auth.ts";

/**
 * GET a JSON answer with the read token (auth.ts). A 401 asks for a token and tries
 * again, up to promptsMax times; any other error is an ApiRequestError.
 */
export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  for (let prompts = 0; ; prompts += 1) {
    const headers = { accept: "application/json", ...authorization() };
    const response = await fetch(path, { headers, signal: signal ?? null });
    if (response.status === 401 && prompts < promptsMax) {
      await response.body?.cancel();
      const hadToken = storedToken() !== undefined;
      forgetToken();
      await askForToken(hadToken);
      continue;
    }
    return await parseAnswer<T>(response);
  }
}

async function parseAnswer<T>(response: Response): Promise<T> {
  const text = await response.text();
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? message;
    } catch {
      // Not JSON: keep the status line.
    }
    throw new ApiRequestError(response.status, message);
  }
  return JSON.parse(text) as T;
}
