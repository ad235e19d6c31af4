/**
 * How the fleet grid colours a cell: each metric has a range, and a value maps onto a
 * perceptual ramp (dark blue → green → yellow) clamped to it. Stale and missing
 * values have their own colours, so "no data" never looks like "zero".
 */

export interface MetricScale {
  metric: string;
  label: string;
  unit: string;
  min: number;
  /** Undefined: the largest value in view (framebuffer sizes differ per model). */
  max: number | undefined;
}

export const gridMetrics: readonly MetricScale[] = [
  { metric: "DCGM_FI_DEV_GPU_UTIL", label: "Utilization", unit: "%", min: 0, max: 100 },
  { metric: "DCGM_FI_DEV_GPU_TEMP", label: "Temperature", unit: "°C", min: 20, max: 90 },
  { metric: "DCGM_FI_DEV_POWER_USAGE", label: "Power", unit: "W", min: 0, max: 700 },
  { metric: "DCGM_FI_DEV_FB_USED", label: "Framebuffer used", unit: "MiB", min: 0, max: undefined },
];

export const missingColor = "#2a2f3a";
export const staleColor = "#5b5f6b";

/** Viridis, sampled at 9 stops. */
const ramp: readonly [number, number, number][] = [
  [68, 1, 84],
  [71, 44, 122],
  [59, 81, 139],
  [44, 113, 142],
  [33, 144, 141],
  [39, 173, 129],
  [92, 200, 99],
  [170, 220, 50],
  [253, 231, 37],
];

/** The ramp's colour at position 0..1 (clamped), interpolated between stops. */
export function rampColor(position: number): string {
  const clamped = Number.isFinite(position) ? Math.min(1, Math.max(0, position)) : 0;
  const scaled = clamped * (ramp.length - 1);
  const index = Math.min(ramp.length - 2, Math.floor(scaled));
  const fraction = scaled - index;
  const from = ramp[index] ?? [0, 0, 0];
  const to = ramp[index + 1] ?? from;
  const channel = (at: number) => Math.round((from[at] ?? 0) + ((to[at] ?? 0) - (from[at] ?? 0)) * fraction);
  return `rgb(${channel(0)}, ${channel(1)}, ${channel(2)})`;
}

export function cellColor(value: number | null | undefined, scale: MetricScale, maxInView: number): string {
  if (value === null || value === undefined) return missingColor;
  const max = scale.max ?? maxInView;
  if (!(max > scale.min)) return rampColor(0);
  return rampColor((value - scale.min) / (max - scale.min));
}
