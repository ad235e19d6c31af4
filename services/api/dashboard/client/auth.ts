import { readTokenCookie } from "../read-token-cookie.ts";
import { h } from "./dom.ts";

/**
 * The read token, when the API keeps scope read closed: typed once into the page, kept
 * for this tab only (sessionStorage, and a session cookie for the event streams, which
 * cannot send a header), sent as `Authorization: Bearer` with every fetch. When the API
 * leaves read open the page never asks.
 */

const storageKey = "gpu-telemetry.read-token";
/** A token typed wrong this many times in a row stops the asking: the page shows the error. */
export const promptsMax = 5;

export function storedToken(): string | undefined {
  try {
    return sessionStorage.getItem(storageKey) ?? undefined;
  } catch {
    return undefined;
  }
}

/** The header for a fetch: the stored token, or nothing. */
export function authorization(): Record<string, string> {
  const token = storedToken();
  return token === undefined ? {} : { authorization: `Bearer ${token}` };
}

function remember(token: string): void {
  sessionStorage.setItem(storageKey, token);
  // biome-ignore lint/suspicious/noDocumentCookie: the Cookie Store API is not in every browser the page serves yet
  document.cookie = `${readTokenCookie}=${encodeURIComponent(token)}; Path=/api/v1; SameSite=Strict${secure()}`;
}

export function forgetToken(): void {
  sessionStorage.removeItem(storageKey);
  // biome-ignore lint/suspicious/noDocumentCookie: as in remember()
  document.cookie = `${readTokenCookie}=; Path=/api/v1; Max-Age=0; SameSite=Strict${secure()}`;
}

function secure(): string {
  return location.protocol === "https:" ? "; Secure" : "";
}

let prompting: Promise<void> | undefined;

/** Asks for a token once, however many requests were refused meanwhile; resolves when one is given. */
export function askForToken(rejected: boolean): Promise<void> {
  prompting ??= showPrompt(rejected).finally(() => {
    prompting = undefined;
  });
  return prompting;
}

function showPrompt(rejected: boolean): Promise<void> {
  return new Promise((resolve) => {
    const input = h("input", {
      type: "password",
      name: "token",
      autocomplete: "off",
      required: true,
      "aria-label": "read token",
    });
    const form = h(
      "form",
      { class: "token-prompt", role: "dialog", "aria-label": "Read token" },
      h("p", {}, rejected ? "That token was not accepted. Enter a read token:" : "This API needs a read token."),
      input,
      h("button", { type: "submit" }, "Use token"),
      h("p", { class: "hint" }, "Kept in this tab only; a token with scope read (the chart's api-read-token)."),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const token = input.value.trim();
      if (token === "") return;
      remember(token);
      form.remove();
      resolve();
    });
    document.body.append(form);
    input.focus();
  });
}
