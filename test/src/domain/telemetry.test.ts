import { describe, expect, test } from "bun:test";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { Gpu } from "../../../src/domain/gpu.ts";
import {
  gpuIndexMax,
  labelCountMax,
  TelemetryPoint,
  telemetryFields,
  textLengthMax,
} from "../../../src/domain/telemetry.ts";

const isTelemetryPoint = TypeCompiler.Compile(TelemetryPoint);

const valid: TelemetryPoint = {
  ts: 1_763_790_000_123,
  source_ts: 1_752_871_354_000,
  uuid: "GPU-5fd4f087-86f3-7a43-b711-4771313afc50",
  hostname: "mtv5-dgx1-hgpu-031",
  gpu_index: 3,
  device: "nvidia3",
  model: "NVIDIA H100 80GB HBM3",
  metric: "DCGM_FI_DEV_GPU_UTIL",
  value: 98.5,
  container: "",
  pod: "",
  namespace: "",
  labels: { DCGM_FI_DRIVER_VERSION: "535.129.03" },
};

describe("TelemetryPoint, derived from telemetryFields", () => {
  test("has exactly the declared fields, in record order, every one required", () => {
    const names = telemetryFields.map((field) => field.name);
    expect(Object.keys(TelemetryPoint.properties)).toEqual(names);
    expect([...(TelemetryPoint.required ?? [])].sort()).toEqual([...names].sort());
    expect(isTelemetryPoint.Check(valid)).toBe(true);
    expect(isTelemetryPoint.Check({ ...valid, extra: 1 })).toBe(false);
    const { hostname: _omitted, ...lacking } = valid;
    expect(isTelemetryPoint.Check(lacking)).toBe(false);
  });

  test("enforces each declared limit", () => {
    expect(isTelemetryPoint.Check({ ...valid, gpu_index: gpuIndexMax })).toBe(true);
    expect(isTelemetryPoint.Check({ ...valid, gpu_index: gpuIndexMax + 1 })).toBe(false);
    expect(isTelemetryPoint.Check({ ...valid, gpu_index: -1 })).toBe(false);
    expect(isTelemetryPoint.Check({ ...valid, hostname: "h".repeat(textLengthMax) })).toBe(true);
    expect(isTelemetryPoint.Check({ ...valid, hostname: "h".repeat(textLengthMax + 1) })).toBe(false);
    expect(isTelemetryPoint.Check({ ...valid, hostname: "" })).toBe(true);
    expect(isTelemetryPoint.Check({ ...valid, uuid: "" })).toBe(false);
    expect(isTelemetryPoint.Check({ ...valid, metric: "" })).toBe(false);
    expect(isTelemetryPoint.Check({ ...valid, ts: -1 })).toBe(false);
    expect(isTelemetryPoint.Check({ ...valid, source_ts: 1.5 })).toBe(false);
    const labels = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`l${i}`, "v"]));
    expect(isTelemetryPoint.Check({ ...valid, labels: labels(labelCountMax) })).toBe(true);
    expect(isTelemetryPoint.Check({ ...valid, labels: labels(labelCountMax + 1) })).toBe(false);
    expect(isTelemetryPoint.Check({ ...valid, labels: { name: "v".repeat(textLengthMax + 1) } })).toBe(false);
  });

  test("the GPU registry's schema takes the same GPU index maximum", () => {
    expect(Gpu.properties.gpu_index.maximum).toBe(gpuIndexMax);
  });
});
