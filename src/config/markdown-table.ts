import type { TObject, TSchema } from "@sinclair/typebox";
import { isSecretSetting } from "./settings.ts";

/** A Markdown table of a config schema: variable, default, allowed values, meaning. */
export function configTable(schema: TObject): string {
  const rows = Object.entries(schema.properties).map(([name, setting]) => {
    const cells = [`\`${name}\``, defaultCell(setting), allowedCell(setting), escapeCell(setting.description ?? "")];
    return `| ${cells.join(" | ")} |`;
  });
  return ["| Variable | Default | Allowed | Meaning |", "| --- | --- | --- | --- |", ...rows].join("\n");
}

function defaultCell(setting: TSchema): string {
  if (setting.default === undefined) return "(required)";
  if (setting.default === "") return "(empty)";
  return `\`${String(setting.default)}\``;
}

function allowedCell(setting: TSchema): string {
  if (Array.isArray(setting.anyOf))
    return setting.anyOf.map((choice: TSchema) => `\`${String(choice.const)}\``).join(", ");
  if (setting.type === "integer" || setting.type === "number") {
    return `${setting.type} ${setting.minimum ?? "…"}–${setting.maximum ?? "…"}`;
  }
  if (setting.type === "boolean") return "`true`, `false`";
  if (isSecretSetting(setting)) return "secret";
  if (setting.pattern !== undefined)
    return setting.pattern.startsWith("^https?") ? "http(s) URL" : `pattern \`${setting.pattern}\``;
  return "string";
}

function escapeCell(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("\n", " ");
}
