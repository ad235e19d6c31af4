import type { FleetChanges, FleetGpu, FleetSnapshot } from "./api.ts";
import { query } from "./api.ts";
import { cellColor, gridMetrics, type MetricScale, rampColor, staleColor } from "./colors.ts";
import { clear, h } from "./dom.ts";
import { type FleetFilter, FleetModel, type HostRow } from "./fleet-model.ts";
import { formatAge, formatValue } from "./format.ts";
import type { Page } from "./page.ts";
import { workloadText } from "./workload.ts";

const filterNames = ["hostname", "model", "namespace", "pod"] as const;

/**
 * Every GPU as a cell of a host × GPU-index grid, coloured by the chosen metric. One
 * stream gives the whole fleet (its first event is the snapshot) and then only what
 * changed: cells are created when GPUs come or go, and otherwise only the changed
 * cells are recoloured. Rows off screen are not rendered (content-visibility).
 */
export function fleetPage(root: HTMLElement, params: URLSearchParams): Page {
  const model = new FleetModel();
  const filter: FleetFilter = {
    hostname: params.get("hostname") ?? "",
    model: params.get("model") ?? "",
    namespace: params.get("namespace") ?? "",
    pod: params.get("pod") ?? "",
  };
  let scale: MetricScale = gridMetrics.find((metric) => metric.metric === params.get("metric")) ?? gridMetrics[0]!;
  const cells = new Map<string, HTMLAnchorElement>();
  const labels = new Map<string, HTMLElement>();
  const status = h("span", { class: "status", "data-state": "connecting" }, "connecting…");
  const summary = h("span", { class: "summary" });
  const grid = h("div", { class: "fleet-grid", role: "grid", "aria-label": "GPUs by host and index" });
  const tooltip = h("div", { class: "tooltip", role: "tooltip", hidden: true });
  const legend = h("div", { class: "legend" });
  const metricSelect = h(
    "select",
    { "aria-label": "Colour by" },
    ...gridMetrics.map((metric) => h("option", { value: metric.metric, selected: metric === scale }, metric.label)),
  );
  const inputs = filterNames.map((name) =>
    h("input", {
      type: "search",
      placeholder: name,
      "aria-label": `filter by ${name}`,
      value: filter[name],
      "data-filter": name,
    }),
  );
  root.append(
    h(
      "section",
      { class: "page fleet" },
      h("div", { class: "toolbar" }, h("label", {}, "Colour by ", metricSelect), ...inputs, summary, status),
      legend,
      grid,
      tooltip,
    ),
  );

  const rebuild = () => {
    const hosts = model.hosts(filter);
    renderGrid(grid, hosts, cells, labels);
    recolour([...cells.keys()]);
    const gpuCount = hosts.reduce((sum, host) => sum + host.gpus.length, 0);
    const stale = hosts.reduce((sum, host) => sum + host.staleCount, 0);
    summary.textContent = `${gpuCount} GPUs · ${hosts.length} hosts · ${stale} stale${model.truncated ? " · truncated" : ""}`;
    grid.dataset.gpuCount = String(gpuCount);
  };
  const recolour = (uuids: readonly string[]) => {
    const maxInView = model.maxValue(scale.metric);
    for (const uuid of uuids) {
      const cell = cells.get(uuid);
      const gpu = model.gpu(uuid);
      if (cell === undefined || gpu === undefined) continue;
      cell.style.background = gpu.stale ? staleColor : cellColor(model.value(gpu, scale.metric), scale, maxInView);
      cell.classList.toggle("stale", gpu.stale);
    }
    renderLegend(legend, scale, maxInView);
  };
  let shownVersion = -1;
  const refresh = () => {
    if (model.version !== shownVersion) {
      shownVersion = model.version;
      model.takeChanged();
      rebuild();
    } else {
      const changed = model.takeChanged();
      recolour(changed);
      if (changed.length > 0) rebuildSummaryStale();
    }
    grid.dataset.generatedAt = model.generatedAt;
  };
  const rebuildSummaryStale = () => {
    for (const host of model.hosts(filter)) {
      const label = labels.get(host.hostname);
      if (label !== undefined) markHost(label, host);
    }
  };

  const stream = new EventSource(
    `/api/v1/fleet/stream${query({ metric: gridMetrics.map((metric) => metric.metric) })}`,
  );
  stream.addEventListener("snapshot", (event) => {
    model.applySnapshot(JSON.parse((event as MessageEvent<string>).data) as FleetSnapshot);
    setStatus(status, "live", "live");
    refresh();
  });
  stream.addEventListener("changes", (event) => {
    model.applyChanges(JSON.parse((event as MessageEvent<string>).data) as FleetChanges);
    refresh();
  });
  stream.addEventListener("unavailable", () => setStatus(status, "degraded", "ClickHouse unavailable, retrying"));
  stream.addEventListener("end", () => {
    stream.close();
    setStatus(status, "ended", "the API stopped; reload to reconnect");
  });
  stream.onerror = () => {
    if (stream.readyState !== EventSource.CLOSED) setStatus(status, "reconnecting", "reconnecting…");
  };

  let filterTimer: ReturnType<typeof setTimeout> | undefined;
  for (const input of inputs) {
    input.addEventListener("input", () => {
      filter[input.dataset.filter as (typeof filterNames)[number]] = input.value;
      clearTimeout(filterTimer);
      filterTimer = setTimeout(() => {
        rebuild();
        replaceParams({ ...filter, metric: scale.metric });
      }, 120);
    });
  }
  metricSelect.addEventListener("change", () => {
    scale = gridMetrics.find((metric) => metric.metric === metricSelect.value) ?? scale;
    recolour([...cells.keys()]);
    replaceParams({ ...filter, metric: scale.metric });
  });
  grid.addEventListener("mouseover", (event) => showTooltip(event, model, tooltip));
  grid.addEventListener("mousemove", (event) => placeTooltip(event, tooltip));
  grid.addEventListener("mouseleave", () => {
    tooltip.hidden = true;
  });
  return {
    unmount: () => {
      stream.close();
      clearTimeout(filterTimer);
    },
  };
}

function renderGrid(
  grid: HTMLElement,
  hosts: readonly HostRow[],
  cells: Map<string, HTMLAnchorElement>,
  labels: Map<string, HTMLElement>,
): void {
  cells.clear();
  labels.clear();
  const columns = Math.max(1, ...hosts.flatMap((host) => host.gpus.map((gpu) => gpu.gpu_index + 1)));
  grid.style.setProperty("--columns", String(columns));
  const header = h("div", { class: "grid-header", role: "row" }, h("span", { class: "host-label" }, "host \\ GPU"));
  for (let index = 0; index < columns; index += 1) header.append(h("span", { class: "index" }, String(index)));
  const rows = document.createDocumentFragment();
  rows.append(header);
  for (const host of hosts) {
    const label = h("span", { class: "host-label", title: host.hostname }, host.hostname);
    labels.set(host.hostname, label);
    markHost(label, host);
    const row = h("div", { class: "host-row", role: "row", "data-host": host.hostname }, label);
    for (const gpu of host.gpus) {
      const cell = h("a", {
        class: "gpu-cell",
        href: `#/gpu/${encodeURIComponent(gpu.uuid)}`,
        "data-uuid": gpu.uuid,
        "aria-label": `${gpu.hostname} GPU ${gpu.gpu_index}`,
        style: `grid-column: ${gpu.gpu_index + 2}`,
      });
      cells.set(gpu.uuid, cell);
      row.append(cell);
    }
    rows.append(row);
  }
  clear(grid);
  grid.append(rows);
}

/** Touches the DOM only when the host's stale state changed: this runs for every host once a second. */
function markHost(label: HTMLElement, host: HostRow): void {
  const stale = host.staleCount === 0 ? "" : host.staleCount === host.gpus.length ? "all" : "some";
  if ((label.dataset.stale ?? "") === stale && label.dataset.staleCount === String(host.staleCount)) return;
  if (stale === "") delete label.dataset.stale;
  else label.dataset.stale = stale;
  label.dataset.staleCount = String(host.staleCount);
  label.title = stale === "" ? host.hostname : `${host.hostname}: ${host.staleCount} of ${host.gpus.length} GPUs stale`;
}

function renderLegend(legend: HTMLElement, scale: MetricScale, maxInView: number): void {
  const max = scale.max ?? maxInView;
  const stops = Array.from({ length: 9 }, (_, index) => rampColor(index / 8)).join(", ");
  clear(legend);
  legend.append(
    h("span", {}, formatValue(scale.min, scale.unit)),
    h("span", { class: "ramp", style: `background: linear-gradient(to right, ${stops})` }),
    h("span", {}, formatValue(max, scale.unit)),
    h("span", { class: "swatch stale" }),
    h("span", {}, "stale"),
    h("span", { class: "swatch missing" }),
    h("span", {}, "no value"),
  );
}

function showTooltip(event: MouseEvent, model: FleetModel, tooltip: HTMLElement): void {
  const cell = (event.target as Element).closest<HTMLElement>(".gpu-cell");
  const gpu = cell === null ? undefined : model.gpu(cell.dataset.uuid ?? "");
  if (gpu === undefined) {
    tooltip.hidden = true;
    return;
  }
  clear(tooltip);
  tooltip.append(h("strong", {}, `${gpu.hostname} · GPU ${gpu.gpu_index}`), h("div", { class: "muted" }, gpu.model));
  if (gpu.pod !== "") tooltip.append(h("div", {}, `pod ${workloadText(gpu)}`));
  tooltip.append(
    h("div", { class: gpu.stale ? "stale-text" : "muted" }, `last seen ${formatAge(gpu.last_seen, Date.now())}`),
    valuesTable(gpu, model),
  );
  if (gpu.mig_instances.length > 0) tooltip.append(migTable(gpu, model));
  tooltip.hidden = false;
}

/** A MIG GPU's instances: profile, pod and the first grid metric each reports. */
function migTable(gpu: FleetGpu, model: FleetModel): HTMLElement {
  const table = h("table", { class: "mig-table" });
  table.append(h("tr", {}, h("th", {}, "MIG"), h("th", {}, "profile"), h("th", {}, "pod"), h("th", {}, "")));
  for (const instance of gpu.mig_instances) {
    const shown = gridMetrics.find((metric) => model.instanceValue(instance, metric.metric) !== null);
    const value =
      shown === undefined
        ? "—"
        : `${shown.label} ${formatValue(model.instanceValue(instance, shown.metric), shown.unit)}`;
    table.append(
      h(
        "tr",
        {},
        h("td", {}, instance.gpu_instance_id),
        h("td", {}, instance.profile || "—"),
        h("td", {}, instance.pod === "" ? "—" : workloadText(instance)),
        h("td", { class: "number" }, value),
      ),
    );
  }
  return table;
}

function valuesTable(gpu: FleetGpu, model: FleetModel): HTMLElement {
  return h(
    "table",
    {},
    ...gridMetrics.map((metric) =>
      h(
        "tr",
        {},
        h("td", {}, metric.label),
        h("td", { class: "number" }, formatValue(model.value(gpu, metric.metric), metric.unit)),
      ),
    ),
  );
}

function placeTooltip(event: MouseEvent, tooltip: HTMLElement): void {
  if (tooltip.hidden) return;
  const x = Math.min(window.innerWidth - tooltip.offsetWidth - 8, event.clientX + 14);
  const y = Math.min(window.innerHeight - tooltip.offsetHeight - 8, event.clientY + 14);
  tooltip.style.transform = `translate(${x}px, ${y}px)`;
}

function setStatus(element: HTMLElement, state: string, text: string): void {
  element.dataset.state = state;
  element.textContent = text;
}

function replaceParams(values: Record<string, string>): void {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) if (value !== "") params.set(name, value);
  history.replaceState(null, "", `#/${params.size > 0 ? `?${params}` : ""}`);
}
