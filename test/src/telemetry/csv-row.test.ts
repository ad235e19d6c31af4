import { describe, expect, test } from "bun:test";
import { type CsvColumns, CsvRowValidator, resolveCsvColumns } from "../../../src/telemetry/csv-row.ts";

const header =
  "timestamp,metric_name,gpu_id,device,uuid,modelName,Hostname,container,pod,namespace,value,labels_raw".split(",");
const row = [
  "2025-07-18T20:42:34Z",
  "DCGM_FI_DEV_GPU_UTIL",
  "3",
  "nvidia3",
  "GPU-5fd4f087-86f3-7a43-b711-4771313afc50",
  "NVIDIA H100 80GB HBM3",
  "mtv5-dgx1-hgpu-031",
  "",
  "",
  "",
  "87.5",
  'DCGM_FI_DRIVER_VERSION="535.129.03",UUID="GPU-5fd4f087-86f3-7a43-b711-4771313afc50",gpu="3",job="dgx_dcgm_exporter"',
];

function columnsOf(names: readonly string[]): CsvColumns {
  const result = resolveCsvColumns(names);
  if (!result.ok) throw new Error(result.error);
  return result.columns;
}

function withField(fields: readonly string[], name: string, value: string): string[] {
  const copy = [...fields];
  copy[header.indexOf(name)] = value;
  return copy;
}

describe("resolveCsvColumns", () => {
  test("finds columns by name in any order, ignoring extra columns", () => {
    const shuffled = ["extra", ...header].reverse();
    const columns = columnsOf(shuffled);
    expect(columns.headerCount).toBe(13);
    expect(shuffled[columns.uuid]).toBe("uuid");
    expect(shuffled[columns.value]).toBe("value");
    expect(shuffled[columns.labelsRaw]).toBe("labels_raw");
  });

  test("optional columns may be absent; required ones may not", () => {
    const minimal = ["uuid", "value", "timestamp", "metric_name", "gpu_id", "Hostname"];
    expect(columnsOf(minimal).labelsRaw).toBe(-1);
    const result = resolveCsvColumns(header.filter((name) => name !== "uuid" && name !== "value"));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toContain("uuid, value");
  });

  test("names are case-sensitive, duplicates are refused", () => {
    expect(resolveCsvColumns(header.map((name) => (name === "Hostname" ? "hostname" : name))).ok).toBe(false);
    expect(resolveCsvColumns([...header, "uuid"]).ok).toBe(false);
  });

  test("a BOM or blanks around a name do not hide it", () => {
    expect(columnsOf([`\ufefftimestamp`, ...header.slice(1).map((name) => ` ${name} `)]).timestamp).toBe(0);
  });
});

describe("CsvRowValidator", () => {
  const validator = new CsvRowValidator(columnsOf(header));

  test("a sample row becomes a source point with extra labels only", () => {
    const result = validator.validate(row);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.point).toEqual({
      source_ts: Date.UTC(2025, 6, 18, 20, 42, 34),
      uuid: "GPU-5fd4f087-86f3-7a43-b711-4771313afc50",
      hostname: "mtv5-dgx1-hgpu-031",
      gpu_index: 3,
      device: "nvidia3",
      model: "NVIDIA H100 80GB HBM3",
      metric: "DCGM_FI_DEV_GPU_UTIL",
      value: 87.5,
      container: "",
      pod: "",
      namespace: "",
      labels: { DCGM_FI_DRIVER_VERSION: "535.129.03", job: "dgx_dcgm_exporter" },
    });
  });

  test("reordered columns give the same point", () => {
    const order = [...header].reverse();
    const reordered = new CsvRowValidator(columnsOf(order)).validate([...row].reverse());
    expect(reordered).toEqual(validator.validate(row));
  });

  test.each([
    ["missing_uuid", withField(row, "uuid", "")],
    ["missing_metric", withField(row, "metric_name", "")],
    ["non_numeric_value", withField(row, "value", "")],
    ["non_numeric_value", withField(row, "value", "12abc")],
    ["non_numeric_value", withField(row, "value", "NaN")],
    ["non_numeric_value", withField(row, "value", "0x10")],
    ["bad_timestamp", withField(row, "timestamp", "")],
    ["bad_timestamp", withField(row, "timestamp", "2025-07-18 20:42:34")],
    ["bad_timestamp", withField(row, "timestamp", "2025-02-30T00:00:00Z")],
    ["bad_timestamp", withField(row, "timestamp", "yesterday")],
    ["bad_gpu_index", withField(row, "gpu_id", "-1")],
    ["bad_gpu_index", withField(row, "gpu_id", "1024")],
    ["bad_gpu_index", withField(row, "gpu_id", "")],
    ["bad_labels", withField(row, "labels_raw", 'a="unterminated')],
    ["field_too_long", withField(row, "Hostname", "h".repeat(257))],
    ["wrong_column_count", row.slice(0, 11)],
    ["wrong_column_count", [...row, "extra"]],
  ])("rejects %s", (reason, fields) => {
    const result = validator.validate(fields);
    expect(result).toMatchObject({ ok: false, reason });
  });

  test("the timestamp memo does not leak across different values", () => {
    const first = validator.validate(withField(row, "timestamp", "2025-07-18T20:42:34.5+02:00"));
    const second = validator.validate(withField(row, "timestamp", "2025-07-18T20:42:35Z"));
    const empty = validator.validate(withField(row, "timestamp", ""));
    expect(first.ok && first.point.source_ts).toBe(Date.UTC(2025, 6, 18, 18, 42, 34, 500));
    expect(second.ok && second.point.source_ts).toBe(Date.UTC(2025, 6, 18, 20, 42, 35));
    expect(empty.ok).toBe(false);
  });
});
