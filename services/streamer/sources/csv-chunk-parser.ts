import Papa from "papaparse";
import { type CsvColumns, CsvRowValidator, resolveCsvColumns } from "../../../src/telemetry/csv-row.ts";
import { encodeRecordTail } from "../../../src/telemetry/record-codec.ts";
import type { RowRejection, RowRejectionReason } from "../../../src/telemetry/source-point.ts";
import { type OnRowBatch, RowBatcher } from "./row-batch.ts";

/**
 * Streams CSV bytes through papaparse chunk by chunk, the way papaparse's own
 * streamers do: its Parser parses each chunk with `ignoreLastRow`, the unfinished
 * row is carried into the next chunk. Memory is bounded by the chunk size plus
 * `rowCharsMax`; nothing holds the whole file. Valid rows are encoded as record
 * tails and handed on in batches; rejected rows are counted by reason and the
 * first few are kept with their line number for the caller to log.
 */

export interface CsvParseOptions {
  batchRowsMax: number;
  /** A row longer than this (characters) means the file is not CSV we can read. */
  rowCharsMax: number;
  rejectionsKeptMax: number;
  /** Input bytes accepted at most (an upload's bound; a file source passes its size bound). */
  bytesMax: number;
}

export interface CsvParseSummary {
  accepted: number;
  rejectedByReason: Partial<Record<RowRejectionReason, number>>;
  rejectedCount: number;
  /** The first `rejectionsKeptMax` rejections, in line order. */
  rejections: RowRejection[];
  /** Physical lines read, the header included. */
  lines: number;
  bytes: number;
}

/** Distinct record keys interned per parse; beyond this, keys are copied but not shared. */
export const keysInternedMax = 65_536;

/** The input as a whole cannot be read (no header, a required column missing, a runaway row). */
export class CsvFormatError extends Error {
  override name = "CsvFormatError";
}

export class CsvChunkParser {
  private readonly decoder = new TextDecoder("utf-8");
  private readonly batcher: RowBatcher;
  private readonly summary: CsvParseSummary = {
    accepted: 0,
    rejectedByReason: {},
    rejectedCount: 0,
    rejections: [],
    lines: 0,
    bytes: 0,
  };
  private parser: Papa.Parser | undefined;
  private newline = "\n";
  private validator: CsvRowValidator | undefined;
  private carry = "";
  private ended = false;
  private readonly keys = new Map<string, string>();

  constructor(
    private readonly options: CsvParseOptions,
    onBatch: OnRowBatch,
  ) {
    this.batcher = new RowBatcher(options.batchRowsMax, onBatch);
  }

  async push(bytes: Uint8Array): Promise<void> {
    if (this.ended) throw new Error("push after end");
    this.summary.bytes += bytes.byteLength;
    if (this.summary.bytes > this.options.bytesMax) {
      throw new CsvFormatError(`input exceeds bytesMax ${this.options.bytesMax}`);
    }
    await this.consume(this.carry + this.decoder.decode(bytes, { stream: true }), false);
  }

  async end(): Promise<CsvParseSummary> {
    if (this.ended) throw new Error("end called twice");
    this.ended = true;
    await this.consume(this.carry + this.decoder.decode(), true);
    await this.batcher.flush();
    if (this.validator === undefined) throw new CsvFormatError("no header line: the input is empty");
    return this.summary;
  }

  private async consume(text: string, final: boolean): Promise<void> {
    const parser = this.parser ?? this.startParser(text, final);
    if (parser === undefined) {
      this.carry = text;
      this.assertCarryBounded();
      return;
    }
    const result = parser.parse(text, 0, !final) as Papa.ParseResult<string[]>;
    const cursor = result.meta.cursor;
    this.carry = text.slice(cursor);
    this.assertCarryBounded();
    const rows = result.data;
    const badRows = quoteErrorRows(result.errors);
    // In the final chunk the text after the last newline is a row too (possibly blank).
    const consumedLines = countOccurrences(text, this.newline, cursor) + (final ? 1 : 0);
    const linesExact = consumedLines === rows.length;
    for (let index = 0; index < rows.length; index += 1) {
      const fields = rows[index] as string[];
      const line = this.summary.lines + 1; // a row spanning lines is reported at its first
      this.summary.lines += linesExact ? 1 : rowLineSpan(fields, this.newline);
      await this.handleRow(fields, line, badRows.has(index));
    }
  }

  /** The newline sequence is taken from the header line; undefined until a whole line arrived. */
  private startParser(text: string, final: boolean): Papa.Parser | undefined {
    const newlineIndex = text.indexOf("\n");
    if (newlineIndex === -1 && !final) return undefined;
    if (newlineIndex > 0 && text.charCodeAt(newlineIndex - 1) === 13) this.newline = "\r\n";
    this.parser = new Papa.Parser({ delimiter: ",", newline: this.newline as "\n" | "\r\n", quoteChar: '"' });
    return this.parser;
  }

  private assertCarryBounded(): void {
    if (this.carry.length <= this.options.rowCharsMax) return;
    throw new CsvFormatError(
      `no end of row within rowCharsMax ${this.options.rowCharsMax} characters after line ${this.summary.lines} (an unclosed quote?)`,
    );
  }

  private async handleRow(fields: string[], line: number, quoteError: boolean): Promise<void> {
    if (this.validator === undefined) {
      this.validator = new CsvRowValidator(headerColumns(fields));
      return;
    }
    if (fields.length === 1 && fields[0] === "") return;
    if (quoteError) {
      this.reject({ line, reason: "bad_quoting", detail: "malformed or unterminated quoted field" });
      return;
    }
    const result = this.validator.validate(fields);
    if (!result.ok) {
      this.reject({ line, reason: result.reason, detail: result.detail });
      return;
    }
    this.summary.accepted += 1;
    if (this.batcher.add(this.internKey(result.point.uuid), encodeRecordTail(result.point))) await this.batcher.flush();
  }

  /**
   * One independent string per GPU. papaparse's fields are substrings of the chunk
   * text, and a kept substring keeps its whole chunk alive: the replay cache would
   * hold the file's text twice over. Interning also gives the produce loop one key
   * object per GPU.
   */
  private internKey(uuid: string): string {
    const known = this.keys.get(uuid);
    if (known !== undefined) return known;
    const copy = JSON.parse(JSON.stringify(uuid)) as string;
    if (this.keys.size < keysInternedMax) this.keys.set(copy, copy);
    return copy;
  }

  private reject(rejection: RowRejection): void {
    const summary = this.summary;
    summary.rejectedCount += 1;
    summary.rejectedByReason[rejection.reason] = (summary.rejectedByReason[rejection.reason] ?? 0) + 1;
    if (summary.rejections.length < this.options.rejectionsKeptMax) summary.rejections.push(rejection);
  }
}

function headerColumns(fields: string[]): CsvColumns {
  const header = resolveCsvColumns(fields);
  if (!header.ok) throw new CsvFormatError(header.error);
  return header.columns;
}

function quoteErrorRows(errors: readonly Papa.ParseError[]): ReadonlySet<number> {
  const rows = new Set<number>();
  for (const error of errors) {
    if (error.type === "Quotes" && error.row !== undefined) rows.add(error.row);
  }
  return rows;
}

function countOccurrences(text: string, needle: string, endIndex: number): number {
  let count = 0;
  for (let index = text.indexOf(needle); index !== -1 && index < endIndex; index = text.indexOf(needle, index + 1)) {
    count += 1;
  }
  return count;
}

/** Lines a row spans when quoted fields hold newlines. */
function rowLineSpan(fields: readonly string[], newline: string): number {
  let span = 1;
  for (const field of fields) span += countOccurrences(field, newline, field.length);
  return span;
}
