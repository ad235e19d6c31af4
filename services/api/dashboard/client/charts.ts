import uPlot from "uplot";

/** A uPlot chart that fits its container's width and keeps it on resize. */
export interface Chart {
  element: HTMLElement;
  /** New data; with `xRangeS`, the x axis spans it (a window) rather than the data alone. */
  setData(data: uPlot.AlignedData, xRangeS?: [number, number]): void;
  destroy(): void;
}

export interface ChartOptions {
  title: string;
  /** One label per series after x. */
  series: { label: string; stroke: string; unit: string }[];
  height: number;
}

const axisStroke = "#9aa3b5";
const axisSizeMin = 40;

/**
 * The value axis as wide as its longest tick label ("80,000" needs more room than "50"),
 * measured with the chart's own font, as uPlot's docs suggest: a fixed width clipped
 * large values. On uPlot's later layout passes the size found first is kept.
 */
function valueAxisSize(plot: uPlot, values: string[] | null, axisIndex: number, cycle: number): number {
  const axis = plot.axes[axisIndex] as uPlot.Axis & { _size?: number };
  if (cycle > 1 && axis._size !== undefined) return axis._size;
  const longest = (values ?? []).reduce((widest, value) => (value.length > widest.length ? value : widest), "");
  const font = Array.isArray(axis.font) ? axis.font[0] : axis.font;
  if (typeof font === "string") plot.ctx.font = font;
  const ticks = typeof axis.ticks === "object" ? (axis.ticks.size ?? 10) : 10;
  const textWidth = longest === "" ? 0 : plot.ctx.measureText(longest).width / devicePixelRatio;
  return Math.max(axisSizeMin, Math.ceil(ticks + (axis.gap ?? 5) + textWidth + 4));
}
const gridStroke = "#2a3040";

export function createChart(container: HTMLElement, options: ChartOptions): Chart {
  const width = () => Math.max(240, container.clientWidth);
  const plot = new uPlot(
    {
      title: options.title,
      width: width(),
      height: options.height,
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      scales: { x: { time: true } },
      axes: [
        { stroke: axisStroke, grid: { stroke: gridStroke } },
        { stroke: axisStroke, grid: { stroke: gridStroke }, size: valueAxisSize },
      ],
      series: [
        {},
        ...options.series.map((series) => ({
          label: series.label,
          stroke: series.stroke,
          width: 1.5,
          spanGaps: false,
          // A bucket alone (a new window, a gap) would draw nothing without its point.
          points: { show: true, size: 4 },
          value: (_: uPlot, value: number | null) => (value === null ? "—" : `${value.toFixed(2)} ${series.unit}`),
        })),
      ],
    },
    [[], ...options.series.map(() => [])],
    container,
  );
  const resize = new ResizeObserver(() => plot.setSize({ width: width(), height: options.height }));
  resize.observe(container);
  return {
    element: container,
    setData: (data, xRangeS) => {
      plot.setData(data, xRangeS === undefined);
      if (xRangeS !== undefined) plot.setScale("x", { min: xRangeS[0], max: xRangeS[1] });
    },
    destroy: () => {
      resize.disconnect();
      plot.destroy();
    },
  };
}
