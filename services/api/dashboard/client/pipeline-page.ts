import type { PipelineStatus } from "./api.ts";
import { type Chart, createChart } from "./charts.ts";
import { clear, h } from "./dom.ts";
import { getJson } from "./fetch-json.ts";
import { formatMs, formatRate } from "./format.ts";
import type { Page } from "./page.ts";

const pollMs = 1_000;

/** The whole pipeline at a glance, from GET /api/v1/pipeline once a second. */
export function pipelinePage(root: HTMLElement): Page {
  const status = h("span", { class: "status", "data-state": "loading" }, "loading…");
  const tiles = h("div", { class: "tiles" });
  const rateChart = h("div", { class: "chart", "data-chart": "rates" });
  const lagChart = h("div", { class: "chart", "data-chart": "lag" });
  const partitions = h("table", { class: "partitions" });
  const processes = h("ul", { class: "processes" });
  const groups = h("table", { class: "groups" });
  root.append(
    h(
      "section",
      { class: "page pipeline" },
      h("div", { class: "toolbar" }, h("h1", {}, "Pipeline"), status),
      tiles,
      h("div", { class: "two-columns" }, rateChart, lagChart),
      h(
        "div",
        { class: "two-columns" },
        h("div", {}, h("h2", {}, "Consumer lag per partition"), partitions),
        h("div", {}, h("h2", {}, "Processes"), processes, h("h2", {}, "Consumer groups"), groups),
      ),
    ),
  );
  const rates: Chart = createChart(rateChart, {
    title: "Datapoints per second",
    series: [
      { label: "produced", stroke: "#7cc4fa", unit: "/s" },
      { label: "inserted", stroke: "#8fd694", unit: "/s" },
    ],
    height: 220,
  });
  const lag: Chart = createChart(lagChart, {
    title: "Collector lag (records)",
    series: [{ label: "lag", stroke: "#f0b35c", unit: "" }],
    height: 220,
  });
  const abort = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const poll = async () => {
    try {
      const pipeline = await getJson<PipelineStatus>("/api/v1/pipeline", abort.signal);
      render(pipeline);
      status.dataset.state = pipeline.broker_reachable ? "live" : "degraded";
      status.textContent = pipeline.broker_reachable ? "live" : "broker unreachable";
    } catch (error) {
      if (abort.signal.aborted) return;
      status.dataset.state = "error";
      status.textContent = error instanceof Error ? error.message : String(error);
    }
    if (!abort.signal.aborted) timer = setTimeout(poll, pollMs);
  };
  const render = (pipeline: PipelineStatus) => {
    renderTiles(tiles, pipeline);
    const times = pipeline.history.map((entry) => Date.parse(entry.timestamp) / 1_000);
    rates.setData([
      times,
      pipeline.history.map((entry) => entry.produced_per_s),
      pipeline.history.map((entry) => entry.inserted_per_s),
    ]);
    lag.setData([times, pipeline.history.map((entry) => entry.lag)]);
    rateChart.dataset.points = String(times.length);
    renderPartitions(partitions, pipeline);
    renderProcesses(processes, pipeline);
    renderGroups(groups, pipeline);
  };
  void poll();
  return {
    unmount: () => {
      abort.abort();
      clearTimeout(timer);
      rates.destroy();
      lag.destroy();
    },
  };
}

function renderTiles(tiles: HTMLElement, pipeline: PipelineStatus): void {
  const tile = (name: string, value: string, detail: string, field: string) =>
    h(
      "div",
      { class: "tile", "data-tile": field },
      h("div", { class: "tile-name" }, name),
      h("div", { class: "tile-value" }, value),
      h("div", { class: "muted" }, detail),
    );
  clear(tiles);
  tiles.append(
    tile(
      "Produced",
      formatRate(pipeline.rates.produced_per_s),
      `${pipeline.totals.produced ?? "—"} in the topic`,
      "produced",
    ),
    tile(
      "Inserted",
      formatRate(pipeline.rates.inserted_per_s),
      `${pipeline.totals.inserted ?? "—"} committed`,
      "inserted",
    ),
    tile("Lag", String(pipeline.lag.total ?? "—"), "records not yet inserted", "lag"),
    tile(
      "Dead letters",
      String(pipeline.totals.dead_letters ?? "—"),
      formatRate(pipeline.rates.dead_letters_per_s),
      "dead-letters",
    ),
    tile(
      "Freshness p50",
      formatMs(pipeline.freshness.p50_ms),
      `p99 ${formatMs(pipeline.freshness.p99_ms)} · last ${pipeline.freshness.window_s} s`,
      "freshness",
    ),
    tile(
      "Live tail",
      pipeline.live_tail.state,
      `${pipeline.live_tail.rows} datapoints · ${pipeline.live_tail.gpus} GPUs`,
      "live-tail",
    ),
  );
}

function renderPartitions(table: HTMLElement, pipeline: PipelineStatus): void {
  clear(table);
  table.append(
    h("tr", {}, ...["partition", "committed", "high watermark", "lag", "owner"].map((name) => h("th", {}, name))),
  );
  for (const partition of pipeline.lag.partitions) {
    table.append(
      h(
        "tr",
        {},
        h("td", { class: "number" }, String(partition.partition)),
        h("td", { class: "number" }, String(partition.committed ?? "—")),
        h("td", { class: "number" }, String(partition.high_watermark)),
        h("td", { class: `number${partition.lag > 10_000 ? " warn" : ""}` }, String(partition.lag)),
        h("td", { class: "muted" }, partition.owner?.slice(0, 8) ?? "—"),
      ),
    );
  }
}

/**
 * The processes that answer, one line each; the configured slots nobody runs (the dev
 * stack probes streamer-1..10 and collector-1..10) summed up per kind on one line.
 */
function renderProcesses(list: HTMLElement, pipeline: PipelineStatus): void {
  clear(list);
  const idle = new Map<string, string[]>();
  for (const process of pipeline.processes) {
    if (process.status === "unreachable") {
      const kind = process.name.replace(/-\d+$/, "");
      idle.set(kind, [...(idle.get(kind) ?? []), process.name]);
      continue;
    }
    list.append(
      h(
        "li",
        { "data-status": process.status },
        h("span", { class: "dot" }),
        h("span", {}, process.name),
        h("span", { class: "muted" }, process.status.replace("_", " ")),
      ),
    );
  }
  for (const [kind, names] of idle) {
    const which = names.length === 1 ? (names[0] ?? kind) : `${names.length} ${kind} slots`;
    list.append(
      h(
        "li",
        { "data-status": "unreachable", class: "idle", title: names.join(", ") },
        h("span", { class: "dot" }),
        h("span", {}, which),
        h("span", { class: "muted" }, "not running"),
      ),
    );
  }
}

function renderGroups(table: HTMLElement, pipeline: PipelineStatus): void {
  clear(table);
  table.append(h("tr", {}, h("th", {}, "group"), h("th", {}, "state"), h("th", {}, "members")));
  for (const group of pipeline.groups) {
    table.append(
      h(
        "tr",
        {},
        h("td", {}, group.group),
        h("td", {}, group.state),
        h("td", { class: "number" }, String(group.members)),
      ),
    );
  }
}
