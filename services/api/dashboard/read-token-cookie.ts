/**
 * The cookie the dashboard keeps its read token in, for the event streams: a browser's
 * EventSource cannot set an Authorization header, and a token in the URL would reach
 * proxies' access logs. The page sets it (Path=/api/v1, SameSite=Strict, the tab's
 * session only) beside its sessionStorage copy; the API's route guard reads it when a
 * request has no Authorization header, with the same check. Shared by the page and
 * the server, so the name exists once.
 */
export const readTokenCookie = "gpu_telemetry_read";
