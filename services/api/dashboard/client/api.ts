/** The API the dashboard reads is the public one: same paths, same JSON as any client. */
export type {
  CatalogMetric,
  FleetChanges,
  FleetGpu,
  FleetMigInstance,
  FleetSnapshot,
  GpuDetail,
  MetricList,
  PipelineStatus,
  StreamDatapoint,
  TelemetrySummary,
} from "../../api-models.ts";

export class ApiRequestError extends Error {
  override name = "ApiRequestError";
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** A query string from repeated parameters, skipping empty values. */
export function query(parameters: Record<string, string | readonly string[] | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(parameters)) {
    if (value === undefined) continue;
    for (const item of typeof value === "string" ? [value] : value) if (item !== "") search.append(name, item);
  }
  const text = search.toString();
  return text === "" ? "" : `?${text}`;
}
