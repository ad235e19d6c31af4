import { type Static, Type } from "@sinclair/typebox";

export const MetricInfo = Type.Object(
  {
    name: Type.String({ description: "DCGM field name" }),
    unit: Type.String({ description: "unit of the value" }),
    kind: Type.Union([Type.Literal("gauge"), Type.Literal("counter")]),
    description: Type.String(),
  },
  { $id: "MetricInfo", additionalProperties: false },
);
export type MetricInfo = Static<typeof MetricInfo>;

const gauge = (name: string, unit: string, description: string): MetricInfo => ({
  name,
  unit,
  kind: "gauge",
  description,
});
const counter = (name: string, unit: string, description: string): MetricInfo => ({
  name,
  unit,
  kind: "counter",
  description,
});

/**
 * The DCGM fields dcgm-exporter publishes by default (its default-counters.csv),
 * with the units DCGM documents. The sample CSV carries the first ten.
 */
export const metricCatalog: readonly MetricInfo[] = Object.freeze([
  gauge("DCGM_FI_DEV_GPU_UTIL", "%", "GPU utilization: share of time one or more kernels ran"),
  gauge("DCGM_FI_DEV_MEM_COPY_UTIL", "%", "Memory utilization: share of time device memory was read or written"),
  gauge("DCGM_FI_DEV_ENC_UTIL", "%", "Video encoder utilization"),
  gauge("DCGM_FI_DEV_DEC_UTIL", "%", "Video decoder utilization"),
  gauge("DCGM_FI_DEV_FB_FREE", "MiB", "Framebuffer memory free"),
  gauge("DCGM_FI_DEV_FB_USED", "MiB", "Framebuffer memory used"),
  gauge("DCGM_FI_DEV_GPU_TEMP", "°C", "GPU temperature"),
  gauge("DCGM_FI_DEV_POWER_USAGE", "W", "Power draw"),
  gauge("DCGM_FI_DEV_SM_CLOCK", "MHz", "SM clock frequency"),
  gauge("DCGM_FI_DEV_MEM_CLOCK", "MHz", "Memory clock frequency"),
  gauge("DCGM_FI_DEV_MEMORY_TEMP", "°C", "HBM memory temperature"),
  gauge("DCGM_FI_DEV_FB_RESERVED", "MiB", "Framebuffer memory reserved"),
  gauge("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "count", "PCIe replays (retries)"),
  counter("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "mJ", "Energy consumed since the driver loaded"),
  counter("DCGM_FI_DEV_XID_ERRORS", "code", "Value of the last XID error"),
  gauge("DCGM_FI_DEV_POWER_MGMT_LIMIT", "W", "Power management limit"),
  counter("DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", "count", "NVLink bandwidth counter, all lanes"),
  gauge("DCGM_FI_DEV_VGPU_LICENSE_STATUS", "state", "vGPU license status"),
  counter("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", "rows", "Rows remapped for uncorrectable errors"),
  counter("DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", "rows", "Rows remapped for correctable errors"),
  gauge("DCGM_FI_DEV_ROW_REMAP_FAILURE", "bool", "Whether row remapping failed"),
  gauge("DCGM_FI_PROF_GR_ENGINE_ACTIVE", "ratio", "Share of time the graphics engine was active"),
  gauge("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "ratio", "Share of cycles the tensor pipe was active"),
  gauge("DCGM_FI_PROF_DRAM_ACTIVE", "ratio", "Share of cycles the device memory interface was active"),
  counter("DCGM_FI_PROF_PCIE_TX_BYTES", "B/s", "PCIe bytes transmitted"),
  counter("DCGM_FI_PROF_PCIE_RX_BYTES", "B/s", "PCIe bytes received"),
]);

const byName = new Map(metricCatalog.map((metric) => [metric.name, metric]));

/** Catalog entry for a DCGM field, or undefined for a field we do not describe. */
export function findMetric(name: string): MetricInfo | undefined {
  return byName.get(name);
}
