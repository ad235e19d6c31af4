import { describe, expect, test } from "bun:test";
import { labelCountMax, textLengthMax } from "../../../src/domain/telemetry.ts";
import { extraLabels, parseLabelList, scanLabels } from "../../../src/telemetry/labels.ts";

const sampleLabelsRaw =
  'DCGM_FI_DRIVER_VERSION="535.129.03",Hostname="mtv5-dgx1-hgpu-031",UUID="GPU-5fd4f087-86f3-7a43-b711-4771313afc50",' +
  '__name__="DCGM_FI_DEV_GPU_UTIL",device="nvidia0",gpu="0",instance="mtv5-dgx1-hgpu-031:9400",job="dgx_dcgm_exporter",' +
  'modelName="NVIDIA H100 80GB HBM3"';

function parsed(text: string): Record<string, string> {
  const scan = parseLabelList(text);
  if (!scan.ok) throw new Error(`unexpected parse error: ${scan.error}`);
  return { ...scan.labels };
}

describe("parseLabelList", () => {
  test("reads the sample CSV's labels_raw", () => {
    const labels = parsed(sampleLabelsRaw);
    expect(labels.UUID).toBe("GPU-5fd4f087-86f3-7a43-b711-4771313afc50");
    expect(labels.instance).toBe("mtv5-dgx1-hgpu-031:9400");
    expect(Object.keys(labels)).toHaveLength(9);
  });

  test("keeps only the labels that are not columns", () => {
    const scan = parseLabelList(sampleLabelsRaw);
    if (!scan.ok) throw new Error(scan.error);
    expect({ ...extraLabels(scan.labels) }).toEqual({
      DCGM_FI_DRIVER_VERSION: "535.129.03",
      instance: "mtv5-dgx1-hgpu-031:9400",
      job: "dgx_dcgm_exporter",
    });
  });

  test("handles escapes, commas and equals signs inside values", () => {
    expect(parsed('a="x\\"y",b="c\\\\d",c="line1\\nline2",d="1,2=3",e=""')).toEqual({
      a: 'x"y',
      b: "c\\d",
      c: "line1\nline2",
      d: "1,2=3",
      e: "",
    });
  });

  test("an empty list, blanks around tokens and a trailing comma", () => {
    expect(parsed("")).toEqual({});
    expect(parsed(' a = "1" , b="2",')).toEqual({ a: "1", b: "2" });
  });

  test("unicode values survive", () => {
    expect(parsed('host="ノード-1",emoji="😀"')).toEqual({ host: "ノード-1", emoji: "😀" });
  });

  test.each([
    ['a="1', "unterminated"],
    ["a=1", "expected '\"'"],
    ['a"1"', "expected '='"],
    ['="1"', "expected a label name"],
    ['1a="1"', "expected a label name"],
    ['a="1"b="2"', "expected ','"],
    ['a="\\x"', "invalid escape"],
    ['a="1",a="2"', "duplicate label a"],
  ])("rejects %s without throwing", (text, message) => {
    const scan = parseLabelList(text);
    expect(scan.ok).toBe(false);
    if (!scan.ok) expect(scan.error).toContain(message);
  });

  test("bounds the label count and value length", () => {
    const atMax = Array.from({ length: labelCountMax }, (_, index) => `l${index}="v"`).join(",");
    expect(parseLabelList(atMax).ok).toBe(true);
    const overMax = `${atMax},extra="v"`;
    const scan = parseLabelList(overMax);
    expect(scan.ok).toBe(false);
    if (!scan.ok) expect(scan.error).toContain("labelCountMax");
    expect(parseLabelList(`a="${"x".repeat(textLengthMax)}"`).ok).toBe(true);
    expect(parseLabelList(`a="${"x".repeat(textLengthMax + 1)}"`).ok).toBe(false);
  });

  test("a __proto__ label is data, not a prototype", () => {
    const scan = parseLabelList('__proto__="x",a="1"');
    if (!scan.ok) throw new Error(scan.error);
    // biome-ignore lint/suspicious/noProto: the point of the test is a label literally named __proto__
    expect(scan.labels.__proto__).toBe("x");
    expect(Object.keys(scan.labels)).toEqual(["__proto__", "a"]);
  });
});

describe("scanLabels", () => {
  test("stops at the closing brace of a text-format label block", () => {
    const line = 'm{a="}",b="2"} 5';
    const scan = scanLabels(line, 2, "}");
    if (!scan.ok) throw new Error(scan.error);
    expect({ ...scan.labels }).toEqual({ a: "}", b: "2" });
    expect(line.slice(scan.endIndex)).toBe("} 5");
  });

  test("a missing closing brace is an error", () => {
    expect(scanLabels('m{a="1"', 2, "}").ok).toBe(false);
  });
});
