import {
  checkAndLocateRecord,
  decodeTelemetryRecord,
  findLabel,
  isJsonRecord,
  newRecordPositions,
  recordFieldIndex,
} from "../../../src/telemetry/record-codec.ts";
import { readSafeInt64 } from "../../../src/telemetry/row-binary.ts";
import type { TailColumns } from "./tail-columns.ts";
import type { TailDictionary } from "./tail-dictionary.ts";

/**
 * Reads a telemetry record into one row of TailColumns: the few fields the live tail
 * keeps (series, times, metric, value, workload), read in place and turned into
 * dictionary ids, so a record costs no string and no object. A record is accepted
 * exactly when the collectors would insert it (the same check), so the tail never
 * holds a row they dead-lettered. JSON records (rare: people, other producers) are
 * decoded whole.
 */

const gpuInstanceLabel = new TextEncoder().encode("GPU_I_ID");
const field = {
  ts: recordFieldIndex("ts") * 2,
  sourceTs: recordFieldIndex("source_ts") * 2,
  uuid: recordFieldIndex("uuid") * 2,
  metric: recordFieldIndex("metric") * 2,
  value: recordFieldIndex("value") * 2,
  namespace: recordFieldIndex("namespace") * 2,
  pod: recordFieldIndex("pod") * 2,
  container: recordFieldIndex("container") * 2,
};

export class TailRecordReader {
  private readonly positions = newRecordPositions();
  private readonly label = new Int32Array(2);
  private view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

  /** Appends the record at `offset` to `into`; false when the collectors would refuse it. */
  read(value: Uint8Array, offset: number, names: TailDictionary, into: TailColumns): boolean {
    if (isJsonRecord(value)) return this.readJson(value, offset, names, into);
    if (!checkAndLocateRecord(value, this.positions).ok) return false;
    const at = this.positions;
    if (this.view.buffer !== value.buffer) this.view = new DataView(value.buffer);
    const base = value.byteOffset;
    const gpu = names.gpus.idOfBytes(value, at[field.uuid] as number, at[field.uuid + 1] as number);
    const instance = findLabel(value, at, gpuInstanceLabel, this.label)
      ? names.gpuInstances.idOfBytes(value, this.label[0] as number, this.label[1] as number)
      : 0;
    into.pushValues(
      offset,
      names.seriesOf(gpu, instance),
      readSafeInt64(this.view, base + (at[field.ts] as number)),
      readSafeInt64(this.view, base + (at[field.sourceTs] as number)),
      this.view.getFloat64(base + (at[field.value] as number), true),
      names.metricOfBytes(value, at[field.metric] as number, at[field.metric + 1] as number),
      this.workload(value, names),
    );
    return true;
  }

  /** Most datapoints have no pod: the empty workload is id 0 without a lookup. */
  private workload(value: Uint8Array, names: TailDictionary): number {
    const at = this.positions;
    const namespaceLength = at[field.namespace + 1] as number;
    const podLength = at[field.pod + 1] as number;
    const containerLength = at[field.container + 1] as number;
    if (namespaceLength === 0 && podLength === 0 && containerLength === 0) return 0;
    return names.workloadOf(
      names.namespaces.idOfBytes(value, at[field.namespace] as number, namespaceLength),
      names.pods.idOfBytes(value, at[field.pod] as number, podLength),
      names.containers.idOfBytes(value, at[field.container] as number, containerLength),
    );
  }

  private readJson(value: Uint8Array, offset: number, names: TailDictionary, into: TailColumns): boolean {
    const decoded = decodeTelemetryRecord(value);
    if (!decoded.ok) return false;
    const { point } = decoded;
    const instance = point.labels.GPU_I_ID ?? "";
    into.pushValues(
      offset,
      names.seriesOf(names.gpus.idOfText(point.uuid), names.gpuInstances.idOfText(instance)),
      point.ts,
      point.source_ts,
      point.value,
      names.metricOfText(point.metric),
      names.workloadOf(
        names.namespaces.idOfText(point.namespace),
        names.pods.idOfText(point.pod),
        names.containers.idOfText(point.container),
      ),
    );
    return true;
  }
}
