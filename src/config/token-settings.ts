import { Setting } from "./settings.ts";

/**
 * What the token settings of every service share: the format of a token list (see
 * src/auth/token-entries.ts) and how often token files are re-read.
 */
export const tokenListFormat =
  "entries separated by newlines or ';', each a token (16-512 letters, digits, -._~+/=) or sha256:<hex> of one";

export const tokensReloadSetting = Setting.integer({
  default: 5_000,
  minimum: 0,
  maximum: 600_000,
  description: "how often the token files are checked for changes (a rotated token is picked up); 0 reads them once",
});
