import { describe, expect, test } from "bun:test";
import {
  type PrometheusParseOptions,
  parsePrometheusText,
  parseSampleValue,
} from "../../../src/telemetry/prometheus-text.ts";

const fixturePath = new URL("../../fixtures/dcgm-exporter-metrics.txt", import.meta.url).pathname;
const options: PrometheusParseOptions = { namePrefix: "", samplesMax: 10_000, errorsKeptMax: 10 };

describe("parsePrometheusText", () => {
  test("reads the dcgm-exporter fixture: 24 DCGM_FI metrics for 2 GPUs, other metrics skipped", async () => {
    const text = await Bun.file(fixturePath).text();
    const result = parsePrometheusText(text, { ...options, namePrefix: "DCGM_FI_" });
    expect(result.errorCount).toBe(0);
    expect(result.samples).toHaveLength(48);
    expect(result.samplesSkipped).toBe(1);
    const first = result.samples[0];
    expect(first?.name).toBe("DCGM_FI_DEV_SM_CLOCK");
    expect(first?.value).toBe(1980);
    expect(first?.timestampMs).toBeUndefined();
    expect(first?.labels.UUID).toBe("GPU-5fd4f087-86f3-7a43-b711-4771313afc50");
    expect(first?.labels.pci_bus_id).toBe("00000000:18:00.0");
    const xid = result.samples.find((sample) => sample.name === "DCGM_FI_DEV_XID_ERRORS");
    expect(xid?.labels.err_msg).toBe("No Error");
  });

  test("comments, HELP/TYPE, blank lines and CRLF are not samples", () => {
    const text = '# HELP m help text\r\n# TYPE m gauge\r\n\r\n   \r\n# any comment {x="y"} 1\r\nm 1\r\n';
    const result = parsePrometheusText(text, options);
    expect(result.samples).toEqual([{ name: "m", labels: {}, value: 1, timestampMs: undefined }]);
  });

  test("labels with escapes, spaces after commas, a trailing comma and braces inside values", () => {
    const text = 'm{a="x\\"y", b="back\\\\slash",c="new\\nline",d="{}",} 2.5 1752871354000\n';
    const [sample] = parsePrometheusText(text, options).samples;
    expect(sample).toBeDefined();
    expect({ ...sample?.labels }).toEqual({ a: 'x"y', b: "back\\slash", c: "new\nline", d: "{}" });
    expect(sample?.value).toBe(2.5);
    expect(sample?.timestampMs).toBe(1_752_871_354_000);
  });

  test("NaN, +Inf, -Inf, exponents and an empty label block", () => {
    const text = "a NaN\nb +Inf\nc -Inf\nd{} 1.5e3\ne:sub_total 7 -5\n";
    const samples = parsePrometheusText(text, options).samples;
    expect(samples.map((sample) => sample.name)).toEqual(["a", "b", "c", "d", "e:sub_total"]);
    expect(Number.isNaN(samples[0]?.value)).toBe(true);
    expect(samples[1]?.value).toBe(Number.POSITIVE_INFINITY);
    expect(samples[2]?.value).toBe(Number.NEGATIVE_INFINITY);
    expect(samples[3]?.value).toBe(1500);
    expect(samples[4]?.timestampMs).toBe(-5);
  });

  test("a text without a final newline still gives its last sample", () => {
    expect(parsePrometheusText("m 1\nn 2", options).samples).toHaveLength(2);
  });

  test("malformed lines are errors with their line number; good lines around them are kept", () => {
    const text = ["good 1", '{a="b"} 1', "m{a=b} 1", 'm{a="b" 1', "m", "m one", "m 1 2 3", "m 1 12.5", "good 2"].join(
      "\n",
    );
    const result = parsePrometheusText(text, options);
    expect(result.samples.map((sample) => sample.value)).toEqual([1, 2]);
    expect(result.errorCount).toBe(7);
    expect(result.errors.map((error) => error.line)).toEqual([2, 3, 4, 5, 6, 7, 8]);
  });

  test("samplesMax stops the parse with an error; errorsKeptMax bounds the kept errors", () => {
    const text = "m 1\n".repeat(5);
    const capped = parsePrometheusText(text, { ...options, samplesMax: 3 });
    expect(capped.samples).toHaveLength(3);
    expect(capped.truncated).toBe(true);
    expect(capped.errors[0]?.error).toContain("samplesMax 3");
    const noisy = parsePrometheusText("bad line here\n".repeat(20), { ...options, errorsKeptMax: 2 });
    expect(noisy.errorCount).toBe(20);
    expect(noisy.errors).toHaveLength(2);
  });

  test("the name prefix skips other metrics without parsing their labels", () => {
    const text = 'go_goroutines{broken 12\nDCGM_FI_DEV_GPU_UTIL{gpu="0"} 3\n';
    const result = parsePrometheusText(text, { ...options, namePrefix: "DCGM_FI_" });
    expect(result.errorCount).toBe(0);
    expect(result.samplesSkipped).toBe(1);
    expect(result.samples).toHaveLength(1);
  });
});

describe("parseSampleValue", () => {
  test("accepts Go float spellings, refuses words", () => {
    expect(parseSampleValue("Inf")).toBe(Number.POSITIVE_INFINITY);
    expect(parseSampleValue("-inf")).toBe(Number.NEGATIVE_INFINITY);
    expect(parseSampleValue("9223372036854775794")).toBe(2 ** 63);
    expect(parseSampleValue("abc")).toBeUndefined();
    expect(parseSampleValue("")).toBeUndefined();
  });
});
