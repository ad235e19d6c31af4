import { type Static, Type } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import {
  type MissingFieldReason,
  missingFieldReasons,
  type TelemetryField,
  type TelemetryFieldName,
  TelemetryPoint,
  telemetryFields,
} from "../domain/telemetry.ts";
import { RowBinaryWriter, readSafeInt64, utf8BytesPerCharMax, writeInt64 } from "./row-binary.ts";
import type { SourcePoint } from "./source-point.ts";

/**
 * A broker record's value is one format tag byte and then one ClickHouse RowBinary row
 * of the fields declared in `telemetryFields` (src/domain/telemetry.ts), in that order,
 * which are the datapoints table's input columns (`recordColumns`, ts first). The
 * encoder, the in-place check and the decoder all walk that declaration. The collector
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
export const recordColumns: readonly TelemetryFieldName[] = telemetryFields.map((field) => field.name);

/** Why a record value could not be decoded; the dead-letter topic carries it. */
export const RecordRejectionReason = Type.Union(
  [
    Type.Literal("undecodable"),
    Type.Literal("unknown_shape"),
    ...missingFieldReasons.map((reason) => Type.Literal(reason)),
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

/**
 * The record's fields as the codec walks them: one shape for every field (so the hot
 * loops read them monomorphically), the limits of the field's type filled in.
 */
interface FieldPlan {
  name: TelemetryFieldName;
  kind: FieldKind;
  /** String and Map: UTF-16 units of a text at most. */
  lengthMax: number;
  /** UInt16: the largest value. */
  valueMax: number;
  /** Map: entries at most. */
  entriesMax: number;
  /** String: required, and the reason when it is empty. */
  emptyReason: MissingFieldReason | undefined;
}

const kindTimestamp = 0;
const kindString = 1;
const kindUInt16 = 2;
const kindFloat64 = 3;
const kindMap = 4;
type FieldKind = typeof kindTimestamp | typeof kindString | typeof kindUInt16 | typeof kindFloat64 | typeof kindMap;

function planOf(field: TelemetryField): FieldPlan {
  const plan: FieldPlan = {
    name: field.name as TelemetryFieldName,
    kind: kindTimestamp,
    lengthMax: 0,
    valueMax: 0,
    entriesMax: 0,
    emptyReason: undefined,
  };
  switch (field.type) {
    case "DateTime64(3, 'UTC')":
      return plan;
    case "String":
      return {
        ...plan,
        kind: kindString,
        lengthMax: field.lengthMax,
        emptyReason: field.required === true ? (`missing_${field.name}` as MissingFieldReason) : undefined,
      };
    case "UInt16":
      if (field.valueMax > 0xffff) throw new Error(`${field.name}: valueMax ${field.valueMax} exceeds UInt16`);
      return { ...plan, kind: kindUInt16, valueMax: field.valueMax };
    case "Float64":
      return { ...plan, kind: kindFloat64 };
    case "Map(String, String)":
      return { ...plan, kind: kindMap, lengthMax: field.lengthMax, entriesMax: field.entriesMax };
  }
}

const fieldPlans: readonly FieldPlan[] = telemetryFields.map(planOf);
/** Everything after the processing time, which stamping writes (recordHeadBytes). */
const tailPlans = fieldPlans.slice(1);
if (fieldPlans[0]?.name !== "ts" || fieldPlans[0].kind !== kindTimestamp) {
  throw new Error(`the record must start with the processing time ts, not ${fieldPlans[0]?.name}`);
}

/**
 * Writes one field of a point, refusing what the collector would refuse anyway
 * (strings are checked there). One closure per field, made once: each reads its own
 * property, which keeps encoding about as fast as a hand-written sequence.
 */
type FieldWriter = (writer: RowBinaryWriter, point: SourcePoint) => void;

function fieldWriterOf(plan: FieldPlan): FieldWriter {
  const name = plan.name as keyof SourcePoint;
  switch (plan.kind) {
    case kindTimestamp:
      return (writer, point) => {
        assertEpochMs(point[name] as number, name);
        writer.int64(point[name] as number);
      };
    case kindString:
      return (writer, point) => writer.string(point[name] as string);
    case kindUInt16:
      return (writer, point) => {
        assertIndex(point[name] as number, plan, point);
        writer.uint16(point[name] as number);
      };
    case kindFloat64:
      return (writer, point) => {
        const value = point[name] as number;
        if (!Number.isFinite(value)) throw new Error(`${name} ${value} of ${point.uuid} ${point.metric} is not finite`);
        writer.float64(value);
      };
    case kindMap:
      return (writer, point) => writeMap(writer, point[name] as Record<string, string>);
  }
}

const tailWriters: readonly FieldWriter[] = tailPlans.map(fieldWriterOf);

function writeTail(writer: RowBinaryWriter, point: SourcePoint): void {
  for (let index = 0; index < tailWriters.length; index += 1) (tailWriters[index] as FieldWriter)(writer, point);
}

/** Keys then lookups: one array instead of one per entry (Object.entries). */
function writeMap(writer: RowBinaryWriter, map: Record<string, string>): void {
  const names = Object.keys(map);
  writer.varUInt(names.length);
  for (const name of names) {
    writer.string(name);
    writer.string(map[name] as string);
  }
}

function assertIndex(value: number, plan: FieldPlan, point: SourcePoint): void {
  if (!Number.isInteger(value) || value < 0 || value > plan.valueMax) {
    throw new Error(`${plan.name} ${value} of ${point.uuid} is not an integer 0..${plan.valueMax}`);
  }
}

function assertEpochMs(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} ${value} is not a non-negative integer ms`);
}

/**
 * Whether a binary record can go into a RowBinary insert as is: the whole layout is
 * walked and every field checked as TelemetryPoint requires, without building
 * anything (under 1 µs a record; the collector calls this for every record).
 * JSON records are checked by decoding them.
 */
export function checkTelemetryRecord(value: Uint8Array): RecordVerdict {
  if (!isBinaryRecordTag(value[0])) {
    const decoded = decodeTelemetryRecord(value);
    return decoded.ok ? verdictOk : { ok: false, reason: decoded.reason, detail: decoded.detail };
  }
  return checkingScanner.reset(value).scan() ?? verdictOk;
}

/**
 * Where each field of a binary record is: for field `i` (telemetryFields order),
 * `positions[2i]` is the byte offset of its value (a string's or the labels map's
 * first byte after the length prefix, or the entry count) and `positions[2i + 1]` its
 * byte length (a string's bytes; for the map, the bytes of all its entries). Filled by
 * checkAndLocateRecord, which checks the record exactly as checkTelemetryRecord does:
 * a reader that wants a few fields reads them in place, without decoding the rest.
 */
export function newRecordPositions(): Int32Array {
  return new Int32Array(fieldPlans.length * 2);
}

/** The index of a field in `positions` (times two), by name. */
export function recordFieldIndex(name: TelemetryFieldName): number {
  const index = fieldPlans.findIndex((plan) => plan.name === name);
  if (index < 0) throw new Error(`no record field ${name}`);
  return index;
}

/** checkTelemetryRecord for a binary record, filling `positions` as it walks; a JSON record is refused ("unknown_shape"). */
export function checkAndLocateRecord(value: Uint8Array, positions: Int32Array): RecordVerdict {
  if (!isBinaryRecordTag(value[0])) return { ok: false, reason: "unknown_shape", detail: "not a binary record" };
  if (positions.length !== fieldPlans.length * 2) throw new RangeError(`positions must hold ${fieldPlans.length * 2}`);
  return locatingScanner.reset(value).locateInto(positions).scan() ?? verdictOk;
}

/**
 * The value of label `name` (its UTF-8 bytes) in a checked record's labels map, as
 * [offset, length] in `into`; false when absent. The first entry of a name wins, as a
 * ClickHouse Map lookup does.
 */
export function findLabel(value: Uint8Array, positions: Int32Array, name: Uint8Array, into: Int32Array): boolean {
  const count = readVarUIntAt(value, positions[labelsFieldIndex * 2] as number).value;
  let at = varUIntResult.next;
  for (let entry = 0; entry < count; entry += 1) {
    const keyLength = readVarUIntAt(value, at).value;
    const keyStart = varUIntResult.next;
    const valueLength = readVarUIntAt(value, keyStart + keyLength).value;
    const valueStart = varUIntResult.next;
    if (keyLength === name.length && bytesEqual(value, keyStart, name)) {
      into[0] = valueStart;
      into[1] = valueLength;
      return true;
    }
    at = valueStart + valueLength;
  }
  return false;
}

const varUIntResult = { value: 0, next: 0 };

/** An LEB128 length in a record already checked (so it ends within the record), into varUIntResult (no object per call). */
function readVarUIntAt(bytes: Uint8Array, offset: number): { value: number; next: number } {
  let value = 0;
  let at = offset;
  for (let shift = 0; shift < 28; shift += 7) {
    const byte = bytes[at++] as number;
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) break;
  }
  varUIntResult.value = value;
  varUIntResult.next = at;
  return varUIntResult;
}

function bytesEqual(bytes: Uint8Array, offset: number, other: Uint8Array): boolean {
  for (let index = 0; index < other.length; index += 1) if (bytes[offset + index] !== other[index]) return false;
  return true;
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
  /** Decoding: the fields' values in record order; a Map's entries go to `map` first. */
  private readonly values: unknown[] = [];
  private readonly texts: string[] = [];
  /** Where each field was found (checkAndLocateRecord); undefined when not wanted. */
  private positions: Int32Array | undefined;

  constructor(private readonly decode: boolean) {}

  locateInto(positions: Int32Array): this {
    this.positions = positions;
    return this;
  }

  reset(bytes: Uint8Array): this {
    if (this.view.buffer !== bytes.buffer) this.view = new DataView(bytes.buffer);
    this.bytes = bytes;
    this.base = bytes.byteOffset;
    this.position = 1;
    if (this.decode) {
      this.values.length = 0;
      this.texts.length = 0;
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
    const point: Record<string, unknown> = {};
    for (let index = 0; index < fieldPlans.length; index += 1) {
      point[(fieldPlans[index] as FieldPlan).name] = this.values[index];
    }
    return point as TelemetryPoint;
  }

  /** One loop over the declared fields, dispatching on a small integer: the check is the collector's hot path. */
  private fields(): void {
    const positions = this.positions;
    for (let index = 0; index < fieldPlans.length; index += 1) {
      const plan = fieldPlans[index] as FieldPlan;
      const start = this.position;
      switch (plan.kind) {
        case kindTimestamp:
          this.timestamp(plan.name);
          break;
        case kindString:
          if (this.text(plan.name, plan.lengthMax, "field_too_long") === 0 && plan.emptyReason !== undefined)
            throw new ScanStop(reject(plan.emptyReason, `empty ${plan.name}`));
          if (this.decode) this.values.push(this.texts.pop());
          break;
        case kindUInt16:
          this.uint16(plan);
          break;
        case kindFloat64:
          this.float64(plan.name);
          break;
        case kindMap:
          this.map(plan);
          break;
      }
      if (positions !== undefined) this.place(positions, index, plan, start);
    }
  }

  /** A string's or the map's content after its length prefix; fixed-width fields as they are. */
  private place(positions: Int32Array, index: number, plan: FieldPlan, start: number): void {
    let from = start;
    if (plan.kind === kindString) {
      while ((this.bytes[from] as number) >= 0x80) from += 1;
      from += 1;
    }
    positions[index * 2] = from;
    positions[index * 2 + 1] = this.position - from;
  }

  private timestamp(name: string): void {
    this.need(8, name);
    const ms = readSafeInt64(this.view, this.base + this.position);
    if (ms < 0) throw new ScanStop(reject("bad_timestamp", `${name} is not a non-negative safe integer ms`));
    this.position += 8;
    if (this.decode) this.values.push(ms);
  }

  private uint16(plan: FieldPlan): void {
    this.need(2, plan.name);
    const value = this.view.getUint16(this.base + this.position, true);
    if (value > plan.valueMax)
      throw new ScanStop(reject("unknown_shape", `${plan.name} ${value} is above ${plan.valueMax}`));
    this.position += 2;
    if (this.decode) this.values.push(value);
  }

  private float64(name: string): void {
    this.need(8, name);
    const value = this.view.getFloat64(this.base + this.position, true);
    if (!Number.isFinite(value)) throw new ScanStop(reject("non_numeric_value", String(value)));
    this.position += 8;
    if (this.decode) this.values.push(value);
  }

  private map(plan: FieldPlan): void {
    const count = this.varUInt(plan.name);
    if (count > plan.entriesMax)
      throw new ScanStop(reject("bad_labels", `${count} ${plan.name}, max ${plan.entriesMax}`));
    const map: Record<string, string> = {};
    for (let index = 0; index < count; index += 1) {
      this.text("label name", plan.lengthMax, "bad_labels");
      this.text("label value", plan.lengthMax, "bad_labels");
      if (!this.decode) continue;
      const value = this.texts.pop() as string;
      const name = this.texts.pop() as string;
      // A repeated name keeps its first value, as a ClickHouse Map lookup does.
      if (!Object.hasOwn(map, name)) map[name] = value;
    }
    if (this.decode) this.values.push(map);
  }

  /**
   * Checks one string (bounds, UTF-8, length in UTF-16 units as the schema counts) and
   * returns its byte length; decoding, the text goes to `texts`.
   */
  private text(name: string, lengthMax: number, tooLong: RecordRejectionReason): number {
    const length = this.varUInt(name);
    if (length > lengthMax * utf8BytesPerCharMax) throw new ScanStop(reject(tooLong, `${name} of ${length} bytes`));
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
    if (ascii && length > lengthMax)
      throw new ScanStop(reject(tooLong, `${name} of ${length} characters, max ${lengthMax}`));
    if (ascii && !this.decode) return length;
    const text = this.utf8(start, name);
    if (text.length > lengthMax)
      throw new ScanStop(reject(tooLong, `${name} of ${text.length} characters, max ${lengthMax}`));
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
const locatingScanner = new RecordScanner(false);
const labelsFieldIndex = fieldPlans.findIndex((plan) => plan.kind === kindMap);
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
  for (const plan of fieldPlans) {
    const value = record[plan.name];
    if (plan.emptyReason !== undefined && (typeof value !== "string" || value.length === 0))
      return reject(plan.emptyReason, plan.name);
  }
  for (const plan of fieldPlans) {
    const value = record[plan.name];
    if (plan.kind === kindFloat64 && (typeof value !== "number" || !Number.isFinite(value)))
      return reject("non_numeric_value", String(value).slice(0, 80));
  }
  for (const plan of fieldPlans) {
    const value = record[plan.name];
    if (plan.kind === kindTimestamp && (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0))
      return reject("bad_timestamp", `${plan.name}: ${String(value).slice(0, 80)}`);
  }
  for (const plan of fieldPlans) {
    const value = record[plan.name];
    if (plan.kind === kindString && typeof value === "string" && value.length > plan.lengthMax)
      return reject("field_too_long", plan.name);
  }
  const firstError = telemetryPointChecker.Errors(parsed).First();
  const path = firstError?.path ?? "";
  const detail = `${path} ${firstError?.message ?? "does not match TelemetryPoint"}`.trim();
  const inMap = fieldPlans.some((plan) => plan.kind === kindMap && path.startsWith(`/${plan.name}`));
  return reject(inMap ? "bad_labels" : "unknown_shape", detail);
}
