import { type GpuDetail, query, type StreamDatapoint, type TelemetrySummary } from "./api.ts";
import { type Chart, createChart } from "./charts.ts";
import { clear, h } from "./dom.ts";
import { getJson } from "./fetch-json.ts";
import { formatAge, formatValue } from "./format.ts";
import { LiveBuckets, stepForWindow } from "./live-buckets.ts";
import type { Page } from "./page.ts";
import { workloadText } from "./workload.ts";

const windows = { "5m": 5 * 60_000, "1h": 3_600_000, "24h": 86_400_000 } as const;
type WindowName = keyof typeof windows | "custom";
const palette = ["#7cc4fa", "#f0b35c", "#8fd694", "#e98aa8", "#b59cf5", "#6ad1c9", "#f7e06e", "#f59a7c", "#9fb4ff"];
const redrawMs = 250;

interface ChartState {
  chart: Chart;
  buckets: LiveBuckets;
}

/**
 * One GPU: its metadata and a chart per metric over the chosen window, from the
 * summary endpoint; while the window ends now, the datapoint stream folds new values
 * into the buckets (at most four redraws a second).
 */
export function gpuPage(root: HTMLElement, uuid: string, params: URLSearchParams): Page {
  const chosen = (params.get("window") ?? "5m") as WindowName;
  const windowName: WindowName = chosen in windows || chosen === "custom" ? chosen : "5m";
  const status = h("span", { class: "status", "data-state": "loading" }, "loading…");
  const meta = h("dl", { class: "meta" });
  const charts = h("div", { class: "charts" });
  const title = h("h1", {}, uuid);
  const customStart = h("input", { type: "datetime-local", "aria-label": "from", value: params.get("start") ?? "" });
  const customEnd = h("input", {
    type: "datetime-local",
    "aria-label": "to (empty: now)",
    value: params.get("end") ?? "",
  });
  const apply = h("button", { type: "button" }, "Apply");
  const buttons = (["5m", "1h", "24h", "custom"] as const).map((name) =>
    h(
      "a",
      { class: `window${name === windowName ? " active" : ""}`, href: windowHref(uuid, name, params) },
      label(name),
    ),
  );
  root.append(
    h(
      "section",
      { class: "page gpu" },
      h("a", { href: "#/", class: "back" }, "← Fleet"),
      title,
      meta,
      h("div", { class: "toolbar" }, ...buttons, customStart, customEnd, apply, status),
      charts,
    ),
  );
  customStart.hidden = customEnd.hidden = apply.hidden = windowName !== "custom";
  apply.addEventListener("click", () => {
    const next = new URLSearchParams({ window: "custom", start: customStart.value, end: customEnd.value });
    location.hash = `#/gpu/${encodeURIComponent(uuid)}?${next}`;
  });

  const abort = new AbortController();
  const states = new Map<string, ChartState>();
  let stream: EventSource | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  let dirty = false;
  const range = resolveWindow(windowName, params);
  const live = range.endMs === undefined;

  const load = async () => {
    const gpu = await getJson<GpuDetail>(`/api/v1/gpus/${encodeURIComponent(uuid)}`, abort.signal);
    const instance = gpu.gpu_instance_id === null ? "" : ` · MIG ${gpu.gpu_instance_id}`;
    title.textContent = `${gpu.hostname} · GPU ${gpu.gpu_index}${instance}`;
    renderMeta(meta, gpu);
    // A MIG instance is its own series: its id (UUID:migN) names it to the stream and the summary.
    if (live) stream = subscribe(gpu.id);
    const endMs = range.endMs ?? Date.now();
    const startMs = endMs - range.windowMs;
    const { step, stepMs } = stepForWindow(range.windowMs);
    const summary = await getJson<TelemetrySummary>(
      `/api/v1/gpus/${encodeURIComponent(gpu.id)}/telemetry/summary${query({
        start_time: new Date(startMs).toISOString(),
        end_time: new Date(endMs).toISOString(),
        step,
        agg: "avg",
      })}`,
      abort.signal,
    );
    clear(charts);
    gpu.metrics.forEach((metric, index) => {
      const series = summary.series.find((candidate) => candidate.metric === metric);
      const unit = series?.unit ?? gpu.latest.find((value) => value.metric === metric)?.unit ?? "";
      const container = h("div", { class: "chart", "data-metric": metric });
      charts.append(container);
      const chart = createChart(container, {
        title: `${metric.replace(/^DCGM_FI_(DEV_|PROF_)?/, "")} (${unit})`,
        series: [{ label: "avg", stroke: palette[index % palette.length] ?? "#7cc4fa", unit }],
        height: 170,
      });
      const buckets = new LiveBuckets(metric, unit, stepMs, range.windowMs, {
        end_time: summary.end_time,
        points: series?.points ?? [],
      });
      states.set(metric, { chart, buckets });
    });
    draw(endMs);
    setStatus(status, live ? "live" : "fixed", live ? "live" : "fixed window");
    if (live)
      timer = setInterval(() => {
        if (dirty) draw(Date.now());
      }, redrawMs);
  };

  const subscribe = (gpuUuid: string): EventSource => {
    const source = new EventSource(`/api/v1/datapoints/stream${query({ gpu: gpuUuid })}`);
    source.addEventListener("datapoints", (event) => {
      const batch = JSON.parse((event as MessageEvent<string>).data) as { items: StreamDatapoint[] };
      for (const point of batch.items) if (states.get(point.metric)?.buckets.add(point) === true) dirty = true;
    });
    source.addEventListener("end", () => {
      source.close();
      setStatus(status, "ended", "the API stopped; reload to reconnect");
    });
    source.onerror = () => {
      if (source.readyState !== EventSource.CLOSED) setStatus(status, "reconnecting", "reconnecting…");
    };
    source.onopen = () => setStatus(status, "live", "live");
    return source;
  };

  const draw = (nowMs: number) => {
    dirty = false;
    for (const { chart, buckets } of states.values()) {
      const [times, values] = buckets.series(nowMs);
      chart.setData([times, values], [(nowMs - range.windowMs) / 1_000, nowMs / 1_000]);
      chart.element.dataset.points = String(times.length);
      chart.element.dataset.lastTimestamp = String(buckets.lastTimestampMs);
    }
  };

  load().catch((error: unknown) => {
    if (abort.signal.aborted) return;
    setStatus(status, "error", error instanceof Error ? error.message : String(error));
  });
  return {
    unmount: () => {
      abort.abort();
      stream?.close();
      clearInterval(timer);
      for (const { chart } of states.values()) chart.destroy();
    },
  };
}

function renderMeta(meta: HTMLElement, gpu: GpuDetail): void {
  const rows: [string, string | HTMLElement][] = [
    ["Host", gpu.hostname],
    ["Index", String(gpu.gpu_index)],
    ["Model", gpu.model],
    ["Driver", gpu.driver_version || "—"],
    ["UUID", gpu.uuid],
  ];
  if (gpu.gpu_instance_id !== null) {
    const parent = h("a", { href: `#/gpu/${encodeURIComponent(gpu.uuid)}` }, "whole GPU");
    const profile = gpu.gpu_instance_profile || "profile unknown";
    rows.push(["MIG", h("span", {}, `instance ${gpu.gpu_instance_id} · ${profile} · `, parent)]);
  }
  rows.push(["Pod", workloadText(gpu)]);
  rows.push(["Last seen", `${formatAge(gpu.last_seen, Date.now())} (${gpu.last_seen})`]);
  if (gpu.mig_instances.length > 0) rows.push(["MIG instances", migInstanceLinks(gpu)]);
  clear(meta);
  for (const [name, value] of rows) meta.append(h("dt", {}, name), h("dd", { "data-field": fieldName(name) }, value));
  const latest = h("dd", { class: "latest" });
  for (const value of gpu.latest.slice(0, 6))
    latest.append(
      h("span", {}, `${value.metric.replace(/^DCGM_FI_(DEV_|PROF_)?/, "")} ${formatValue(value.value, value.unit)}`),
    );
  meta.append(h("dt", {}, "Latest"), latest);
}

function fieldName(name: string): string {
  return name.toLowerCase().replace(/ /g, "-");
}

/** Each MIG instance as a link to its own page, with its profile and pod. */
function migInstanceLinks(gpu: GpuDetail): HTMLElement {
  const list = h("ul", { class: "mig-instances" });
  for (const instance of gpu.mig_instances) {
    const pod = instance.pod === "" ? "no pod" : workloadText(instance);
    list.append(
      h(
        "li",
        { "data-id": instance.id },
        h("a", { href: `#/gpu/${encodeURIComponent(instance.id)}` }, `MIG ${instance.gpu_instance_id}`),
        h("span", { class: "muted" }, ` ${instance.profile || "—"} · ${pod}`),
      ),
    );
  }
  return list;
}

function resolveWindow(name: WindowName, params: URLSearchParams): { windowMs: number; endMs: number | undefined } {
  if (name !== "custom") return { windowMs: windows[name], endMs: undefined };
  const startMs = Date.parse(params.get("start") ?? "");
  const endText = params.get("end") ?? "";
  const endMs = endText === "" ? undefined : Date.parse(endText);
  const until = endMs ?? Date.now();
  const windowMs = Number.isFinite(startMs) && startMs < until ? until - startMs : windows["1h"];
  return { windowMs, endMs: endMs !== undefined && Number.isFinite(endMs) ? endMs : undefined };
}

function windowHref(uuid: string, name: WindowName, params: URLSearchParams): string {
  const next = new URLSearchParams({ window: name });
  if (name === "custom") {
    next.set("start", params.get("start") ?? new Date(Date.now() - 3_600_000).toISOString().slice(0, 16));
    next.set("end", params.get("end") ?? "");
  }
  return `#/gpu/${encodeURIComponent(uuid)}?${next}`;
}

function label(name: WindowName): string {
  return { "5m": "5 min", "1h": "1 h", "24h": "24 h", custom: "Custom" }[name];
}

function setStatus(element: HTMLElement, state: string, text: string): void {
  element.dataset.state = state;
  element.textContent = text;
}
