/**
 * Which datapoints belong to a set of series (a GPU's own, or one MIG instance's), as
 * a condition and its parameters: one GPU is the common case and uses the primary key
 * directly; several (a GraphQL list) are matched by uuid, which the key narrows, and
 * then by uuid and instance together.
 */

export interface SeriesKey {
  uuid: string;
  /** GPU_I_ID; empty for the GPU's own datapoints. */
  gpuInstance: string;
}

export function seriesCondition(series: readonly SeriesKey[]): string {
  if (series.length === 1) return "uuid = {uuid:String} AND gpu_instance = {gpu_instance:String}";
  return "has({uuids:Array(String)}, uuid) AND has({series_keys:Array(String)}, concat(uuid, '\\n', gpu_instance))";
}

export function seriesParams(series: readonly SeriesKey[]): Record<string, unknown> {
  if (series.length === 0) throw new RangeError("a series filter needs at least one series");
  const first = series[0] as SeriesKey;
  if (series.length === 1) return { uuid: first.uuid, gpu_instance: first.gpuInstance };
  return {
    uuids: [...new Set(series.map((key) => key.uuid))],
    series_keys: series.map((key) => `${key.uuid}\n${key.gpuInstance}`),
  };
}
