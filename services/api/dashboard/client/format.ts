/** Numbers and times as the pages print them. */

export function formatValue(value: number | null | undefined, unit = ""): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  const magnitude = Math.abs(value);
  const text =
    magnitude >= 100_000
      ? `${(value / 1_000).toFixed(0)}k`
      : magnitude >= 100
        ? value.toFixed(0)
        : magnitude >= 10
          ? value.toFixed(1)
          : value.toFixed(2);
  return unit === "" ? text : `${text} ${unit}`;
}

export function formatRate(perSecond: number | null | undefined): string {
  if (perSecond === null || perSecond === undefined || !Number.isFinite(perSecond)) return "—";
  if (perSecond >= 1_000_000) return `${(perSecond / 1_000_000).toFixed(2)}M/s`;
  if (perSecond >= 1_000) return `${(perSecond / 1_000).toFixed(1)}k/s`;
  return `${perSecond.toFixed(0)}/s`;
}

/** "3 s ago", "5 min ago", "2 h ago": how old a timestamp is. */
export function formatAge(timestamp: string, nowMs: number): string {
  const ageMs = Math.max(0, nowMs - Date.parse(timestamp));
  if (!Number.isFinite(ageMs)) return "never";
  if (ageMs < 60_000) return `${Math.round(ageMs / 1_000)} s ago`;
  if (ageMs < 3_600_000) return `${Math.round(ageMs / 60_000)} min ago`;
  if (ageMs < 172_800_000) return `${Math.round(ageMs / 3_600_000)} h ago`;
  return `${Math.round(ageMs / 86_400_000)} d ago`;
}

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  return ms >= 10_000 ? `${(ms / 1_000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}
