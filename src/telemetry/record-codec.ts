import { type Static, Type } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { labelCountMax, TelemetryPoint, textLengthMax } from "../domain/telemetry.ts";
import { RowBinaryWriter, readSafeInt64, utf8BytesPerCharMax, writeInt64 } from "./row-binary.ts";
import type { SourcePoint } from "./source-point.ts";

/**
 * A broker record's value is one format tag byte and then one ClickHouse RowBinary row
 * of the datapoints table's input columns (`recordColumns`, ts first). The collector
 * drops the tag and concatenates the rows into a `FORMAT RowBinary` insert body without
 * parsing or re-encoding them: binary rows cost the engine about half of what JSON
 * lines do to ingest (`bun run bench:clickhouse-insert`), and the streamer writes them
 * with less work too.
 *
 * A source encodes everything after `ts` once (the "tail"); stamping the processing
 * time writes the tag and 8 bytes in front of it.
 *
 * A value that starts with `{` is read as one TelemetryPoint JSON object, so a person
 * or another producer can still send JSON (`bun run broker -- produce`); the collector
 * converts those few to the binary row.
 */

export const recordFormatTag = 0x01;
/**
 * The same binary row, sent by a streamer on the CSV loop's shared schedule: its
 * timestamp is its due time, so a streamer taking its partition over can tell from
 * it where the previous owner stopped. Nothing else writes this tag, so an upload
 * or another producer of the same rows is never taken for the schedule.
 */
export const scheduledRecordTag = 0x02;

/** Either binary tag: the row after it is the same. */
export function isBinaryRecordTag(tag: number | undefined): boolean {
  return tag === recordFormatTag || tag === scheduledRecordTag;
}
const jsonOpenBrace = 0x7b;
/** Tag plus the Int64 processing time: what stamping writes in front of a tail. */
export const recordHeadBytes = 9;
/** Longest record value decode accepts; a real one is about 200 bytes. */
export const recordLengthMax = 65_536;

/** The datapoints columns a record carries, in record order. */
export const recordColumns = [
  "ts",
  "source_ts",
  "uuid",
  "hostname",
  "gpu_index",
  "device",
  "model",
  "metric",
  "value",
  "container",
  "pod",
  "namespace",
  "labels",
] as const;

/** Why a record value could not be decoded; the dead-letter topic carries it. */
export const RecordRejectionReason = Type.Union(
  [
    Type.Literal("undecodable"),
    Type.Literal("unknown_shape"),
    Type.Literal("missing_uuid"),
    Type.Literal("missing_metric"),
    Type.Literal("non_numeric_value"),
    Type.Literal("bad_timestamp"),
    Type.Literal("bad_labels"),
    Type.Literal("field_too_long"),
  ],
  { $id: "RecordRejectionReason" },
);
export type RecordRejectionReason = Static<typeof RecordRejectionReason>;

export type RecordVerdict = { ok: true } | { ok: false; reason: RecordRejectionReason; detail: string };
export type RecordDecodeResult =
  | { ok: true; point: TelemetryPoint }
  | { ok: false; reason: RecordRejectionReason; detail: string };

/** The record key: one GPU's datapoints share a partition and stay in order. */
export function recordKey(point: SourcePoint): string {
  return point.uuid;
}

const tailWriter = new RowBinaryWriter(recordLengthMax);

/** Everything after the processing time: source_ts through labels, as RowBinary. */
export function encodeRecordTail(point: SourcePoint): Uint8Array {
  assertEncodable(point);
  tailWriter.reset();
  writeTail(tailWriter, point);
  return tailWriter.take();
}

/** Tag, processing time and tail: a whole record value (the stamper writes the same into slabs). */
export function stampRecord(tsMs: number, tail: Uint8Array): Uint8Array {
  assertEpochMs(tsMs, "ts");
  const record = new Uint8Array(recordHeadBytes + tail.byteLength);
  writeRecordHead(record, 0, tsMs);
  record.set(tail, recordHeadBytes);
  return record;
}

/** Writes the tag and `tsMs` at `offset`: recordHeadBytes bytes. */
export function writeRecordHead(bytes: Uint8Array, offset: number, tsMs: number, tag = recordFormatTag): void {
  if (!isBinaryRecordTag(tag)) throw new RangeError(`record tag ${tag} is not a binary tag`);
  bytes[offset] = tag;
  writeInt64(new DataView(bytes.buffer, bytes.byteOffset + offset + 1, 8), 0, tsMs);
}

export function encodeTelemetryRecord(point: TelemetryPoint): Uint8Array {
  assertEpochMs(point.ts, "ts");
  return stampRecord(point.ts, encodeRecordTail(point));
}

/** The RowBinary row inside a binary record (a view, no copy). */
export function recordRow(value: Uint8Array): Uint8Array {
  if (!isBinaryRecordTag(value[0])) throw new Error(`not a binary telemetry record (tag ${value[0]})`);
  return value.subarray(1);
}

/** JSON text, possibly after whitespace; the binary tag is a control character, so the two never mix. */
export function isJsonRecord(value: Uint8Array): boolean {
  const first = value[0];
  return first === jsonOpenBrace || first === 0x20 || first === 0x09 || first === 0x0a || first === 0x0d;
}

function writeTail(writer: RowBinaryWriter, point: SourcePoint): void {
  writer.int64(point.source_ts);
  writer.string(point.uuid);
  writer.string(point.hostname);
  writer.uint16(point.gpu_index);
  writer.string(point.device);
  writer.string(point.model);
  writer.string(point.metric);
  writer.float64(point.value);
  writer.string(point.container);
  writer.string(point.pod);
  writer.string(point.namespace);
  const labels = Object.entries(point.labels);
  writer.varUInt(labels.length);
  for (const [name, value] of labels) {
    writer.string(name);
    writer.string(value);
  }
}

/** What the collector would refuse anyway is refused at the source. */
function assertEncodable(point: SourcePoint): void {
  assertEpochMs(point.source_ts, "source_ts");
  if (!Number.isFinite(point.value))
    throw new Error(`value ${point.value} of ${point.uuid} ${point.metric} is not finite`);
  if (!Number.isInteger(point.gpu_index) || point.gpu_index < 0 || point.gpu_index > 0xffff) {
    throw new Error(`gpu_index ${point.gpu_index} of ${point.uuid} is not a UInt16`);
  }
}

function assertEpochMs(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} ${value} is not a non-negative integer ms`);
}

/**
 * Whether a binary record can go into a RowBinary insert as is: the whole layout is
 * walked and every field checked as TelemetryPoint requires, without building
 * anything (about 0.1 µs a record; the collector calls this for every record).
 * JSON records are checked by decoding them.
 */
export function checkTelemetryRecord(value: Uint8Array): RecordVerdict {
  if (!isBinaryRecordTag(value[0])) {
    const decoded = decodeTelemetryRecord(value);
    return decoded.ok ? verdictOk : { ok: false, reason: decoded.reason, detail: decoded.detail };
  }
  return checkingScanner.reset(value).scan() ?? verdictOk;
}

/** Parses and validates one record value (binary or JSON); never throws. */
export function decodeTelemetryRecord(input: string | Uint8Array): RecordDecodeResult {
  if (typeof input === "string" || isJsonRecord(input)) return decodeJsonRecord(input);
  if (!isBinaryRecordTag(input[0]))
    return reject(
      "unknown_shape",
      `format tag ${input[0]}: neither ${recordFormatTag} or ${scheduledRecordTag} (binary) nor '{' (JSON)`,
    );
  const scanner = new RecordScanner(true).reset(input);
  const problem = scanner.scan();
  return problem ?? { ok: true, point: scanner.point() };
}

const verdictOk: RecordVerdict = { ok: true };
const fatalUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
type Rejection = { ok: false; reason: RecordRejectionReason; detail: string };
const reject = (reason: RecordRejectionReason, detail: string): Rejection => ({ ok: false, reason, detail });

/** Thrown inside the scanner only; scan() turns it into a verdict. */
class ScanStop {
  constructor(readonly rejection: Rejection) {}
}

/**
 * Walks one binary record; with `decode` it also keeps the values. The checking one is
 * reused for every record (no allocation per record: the collector checks hundreds of
 * thousands a second), with one DataView per underlying buffer, not per record.
 */
class RecordScanner {
  private bytes: Uint8Array = new Uint8Array(0);
  private view: DataView = new DataView(new ArrayBuffer(0));
  /** Where the record starts inside `view`. */
  private base = 0;
  private position = 1;
  private readonly texts: string[] = [];
  private readonly numbers: number[] = [];
  private labels: Record<string, string> = {};

  constructor(private readonly decode: boolean) {}

  reset(bytes: Uint8Array): this {
    if (this.view.buffer !== bytes.buffer) this.view = new DataView(bytes.buffer);
    this.bytes = bytes;
    this.base = bytes.byteOffset;
    this.position = 1;
    if (this.decode) {
      this.texts.length = 0;
      this.numbers.length = 0;
      this.labels = {};
    }
    return this;
  }

  /** undefined when the record is good. */
  scan(): Rejection | undefined {
    if (this.bytes.byteLength > recordLengthMax)
      return reject("undecodable", `${this.bytes.byteLength} bytes, max ${recordLengthMax}`);
    try {
      this.fields();
    } catch (error) {
      if (error instanceof ScanStop) return error.rejection;
      throw error;
    }
    if (this.position !== this.bytes.byteLength) {
      return reject("undecodable", `${this.bytes.byteLength - this.position} bytes after the last field`);
    }
    return undefined;
  }

  point(): TelemetryPoint {
    const [ts, sourceTs, gpuIndex, value] = this.numbers as [number, number, number, number];
    const [uuid, hostname, device, model, metric, container, pod, namespace] = this.texts as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    return {
      ts,
      source_ts: sourceTs,
      uuid,
      hostname,
      gpu_index: gpuIndex,
      device,
      model,
      metric,
      value,
      container,
      pod,
      namespace,
      labels: this.labels,
    };
  }

  private fields(): void {
    this.timestamp("ts");
    this.timestamp("source_ts");
    if (this.text("uuid", "field_too_long") === 0) throw new ScanStop(reject("missing_uuid", "empty uuid"));
    this.text("hostname", "field_too_long");
    this.gpuIndex();
    this.text("device", "field_too_long");
    this.text("model", "field_too_long");
    if (this.text("metric", "field_too_long") === 0) throw new ScanStop(reject("missing_metric", "empty metric"));
    this.value();
    this.text("container", "field_too_long");
    this.text("pod", "field_too_long");
    this.text("namespace", "field_too_long");
    this.labelMap();
  }

  private timestamp(name: string): void {
    this.need(8, name);
    const ms = readSafeInt64(this.view, this.base + this.position);
    if (ms < 0) throw new ScanStop(reject("bad_timestamp", `${name} is not a non-negative safe integer ms`));
    this.position += 8;
    if (this.decode) this.numbers.push(ms);
  }

  private gpuIndex(): void {
    this.need(2, "gpu_index");
    const index = this.view.getUint16(this.base + this.position, true);
    if (index > 1023) throw new ScanStop(reject("unknown_shape", `gpu_index ${index} is above 1023`));
    this.position += 2;
    if (this.decode) this.numbers.push(index);
  }

  private value(): void {
    this.need(8, "value");
    const value = this.view.getFloat64(this.base + this.position, true);
    if (!Number.isFinite(value)) throw new ScanStop(reject("non_numeric_value", String(value)));
    this.position += 8;
    if (this.decode) this.numbers.push(value);
  }

  private labelMap(): void {
    const count = this.varUInt("labels");
    if (count > labelCountMax) throw new ScanStop(reject("bad_labels", `${count} labels, max ${labelCountMax}`));
    for (let index = 0; index < count; index += 1) {
      const nameStart = this.texts.length;
      this.text("label name", "bad_labels");
      this.text("label value", "bad_labels");
      if (!this.decode) continue;
      const [name, value] = this.texts.splice(nameStart, 2) as [string, string];
      // A repeated name keeps its first value, as a ClickHouse Map lookup does.
      if (!Object.hasOwn(this.labels, name)) this.labels[name] = value;
    }
  }

  /** Checks one string (bounds, UTF-8, length in UTF-16 units as the schema counts) and returns its byte length. */
  private text(name: string, tooLong: RecordRejectionReason): number {
    const length = this.varUInt(name);
    if (length > textLengthMax * utf8BytesPerCharMax) throw new ScanStop(reject(tooLong, `${name} of ${length} bytes`));
    this.need(length, name);
    const start = this.position;
    this.position += length;
    let ascii = true;
    for (let index = start; index < this.position; index += 1) {
      if ((this.bytes[index] as number) >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii && length > textLengthMax)
      throw new ScanStop(reject(tooLong, `${name} of ${length} characters, max ${textLengthMax}`));
    if (ascii && !this.decode) return length;
    const text = this.utf8(start, name);
    if (text.length > textLengthMax)
      throw new ScanStop(reject(tooLong, `${name} of ${text.length} characters, max ${textLengthMax}`));
    if (this.decode) this.texts.push(text);
    return length;
  }

  private utf8(start: number, name: string): string {
    try {
      return fatalUtf8.decode(this.bytes.subarray(start, this.position));
    } catch {
      throw new ScanStop(reject("undecodable", `${name} is not valid UTF-8`));
    }
  }

  private varUInt(name: string): number {
    let value = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      this.need(1, name);
      const byte = this.bytes[this.position++] as number;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
    throw new ScanStop(reject("undecodable", `${name}: length prefix longer than 4 bytes`));
  }

  private need(bytes: number, name: string): void {
    if (this.position + bytes > this.bytes.byteLength) {
      throw new ScanStop(reject("undecodable", `truncated in ${name} at byte ${this.position}`));
    }
  }
}

const checkingScanner = new RecordScanner(false);
const telemetryPointChecker = TypeCompiler.Compile(TelemetryPoint);

function decodeJsonRecord(input: string | Uint8Array): RecordDecodeResult {
  let text: string;
  try {
    text = typeof input === "string" ? input : fatalUtf8.decode(input);
  } catch {
    return reject("undecodable", "invalid UTF-8");
  }
  if (text.length > recordLengthMax) return reject("undecodable", `${text.length} characters, max ${recordLengthMax}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return reject("undecodable", (error as Error).message.slice(0, 120));
  }
  if (telemetryPointChecker.Check(parsed)) return { ok: true, point: parsed };
  return classifyInvalid(parsed);
}

/** Names the first problem an operator would care about, most specific first. */
function classifyInvalid(parsed: unknown): Rejection {
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    return reject("unknown_shape", "not a JSON object");
  const record = parsed as Record<string, unknown>;
  if (typeof record.uuid !== "string" || record.uuid.length === 0) return reject("missing_uuid", "uuid");
  if (typeof record.metric !== "string" || record.metric.length === 0) return reject("missing_metric", "metric");
  if (typeof record.value !== "number" || !Number.isFinite(record.value)) {
    return reject("non_numeric_value", String(record.value).slice(0, 80));
  }
  for (const name of ["ts", "source_ts"]) {
    const value = record[name];
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
      return reject("bad_timestamp", `${name}: ${String(value).slice(0, 80)}`);
    }
  }
  for (const name of ["uuid", "hostname", "device", "model", "metric", "container", "pod", "namespace"]) {
    const value = record[name];
    if (typeof value === "string" && value.length > textLengthMax) return reject("field_too_long", name);
  }
  const firstError = telemetryPointChecker.Errors(parsed).First();
  const path = firstError?.path ?? "";
  const detail = `${path} ${firstError?.message ?? "does not match TelemetryPoint"}`.trim();
  return reject(path.startsWith("/labels") ? "bad_labels" : "unknown_shape", detail);
}
