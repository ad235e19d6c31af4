/** Left-aligned text columns, like Kafka's tools print. */
export function formatTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string[] {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? "").length)));
  return cells.map((row) =>
    row
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join("  ")
      .trimEnd(),
  );
}

export function printTable(
  out: (line: string) => void,
  header: readonly string[],
  rows: readonly (readonly (string | number)[])[],
): void {
  for (const line of formatTable(header, rows)) out(line);
}
