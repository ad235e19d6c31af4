import { describe, expect, test } from "bun:test";
import type { FleetGpu, FleetSnapshot } from "../../../../../services/api/dashboard/client/api.ts";
import { FleetModel, matches, noFilter } from "../../../../../services/api/dashboard/client/fleet-model.ts";

const gpu = (fields: Partial<FleetGpu> & Pick<FleetGpu, "uuid" | "hostname" | "gpu_index">): FleetGpu => ({
  model: "H100",
  namespace: "",
  pod: "",
  container: "",
  last_seen: "2026-01-01T00:00:00.000Z",
  stale: false,
  values: [50, 40],
  timestamps: ["2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z"],
  mig_instances: [],
  ...fields,
});

const snapshot: FleetSnapshot = {
  generated_at: "2026-01-01T00:00:01.000Z",
  stale_after_ms: 60_000,
  metrics: [
    { name: "UTIL", unit: "%" },
    { name: "TEMP", unit: "°C" },
  ],
  truncated: false,
  items: [
    gpu({ uuid: "b1", hostname: "host-b", gpu_index: 1, stale: true }),
    gpu({ uuid: "a0", hostname: "host-a", gpu_index: 0, pod: "train-1", namespace: "ml" }),
    gpu({ uuid: "b0", hostname: "host-b", gpu_index: 0, model: "A100", values: [90, null] }),
  ],
};

describe("FleetModel", () => {
  test("groups GPUs by host, hosts by name, GPUs by index, and counts the stale ones", () => {
    const model = new FleetModel();
    model.applySnapshot(snapshot);
    const hosts = model.hosts(noFilter);
    expect(hosts.map((host) => [host.hostname, host.gpus.map((one) => one.uuid), host.staleCount])).toEqual([
      ["host-a", ["a0"], 0],
      ["host-b", ["b0", "b1"], 1],
    ]);
    expect(model.value(model.gpu("b0")!, "TEMP")).toBeNull();
    expect(model.value(model.gpu("b0")!, "UTIL")).toBe(90);
    expect(model.maxValue("UTIL")).toBe(90);
  });

  test("changes of values only mark GPUs changed; new or moved GPUs and removals bump the version", () => {
    const model = new FleetModel();
    model.applySnapshot(snapshot);
    const version = model.version;
    model.takeChanged();
    const changes = {
      ...snapshot,
      items: [gpu({ uuid: "a0", hostname: "host-a", gpu_index: 0, values: [1, 2] })],
      removed: [],
    };
    model.applyChanges(changes);
    expect(model.version).toBe(version);
    expect(model.takeChanged()).toEqual(["a0"]);
    expect(model.takeChanged()).toEqual([]);
    model.applyChanges({ ...changes, items: [gpu({ uuid: "c0", hostname: "host-c", gpu_index: 0 })] });
    expect(model.version).toBe(version + 1);
    model.applyChanges({ ...changes, items: [], removed: ["b1"] });
    expect(model.version).toBe(version + 2);
    expect(model.size).toBe(3);
  });

  test("filters are case-insensitive substrings of hostname, model, namespace and pod", () => {
    const [b1, a0, b0] = snapshot.items as [FleetGpu, FleetGpu, FleetGpu];
    expect(matches(a0, { ...noFilter, pod: "TRAIN" })).toBe(true);
    expect(matches(b1, { ...noFilter, pod: "train" })).toBe(false);
    expect(matches(b0, { ...noFilter, model: "a10", hostname: "-b" })).toBe(true);
    expect(matches(b0, { ...noFilter, namespace: "ml" })).toBe(false);
  });
});
