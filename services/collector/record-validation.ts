import {
  checkTelemetryRecord,
  decodeTelemetryRecord,
  encodeTelemetryRecord,
  isJsonRecord,
  type RecordRejectionReason,
  recordRow,
} from "../../src/telemetry/record-codec.ts";

/** A record the insert can take: its RowBinary row, or why it goes to the dead letters. */
export type RecordAdmission =
  | { ok: true; row: Uint8Array }
  | { ok: false; reason: RecordRejectionReason; detail: string };

/**
 * Decides what a record value contributes to a RowBinary insert body. A bad row would
 * fail the whole insert (and stall the partition), so nothing passes that ClickHouse
 * or the API would choke on. A binary record (the streamers') is checked in place and
 * its row is a view of the value; a JSON record (a person's or another producer's) is
 * decoded, validated and re-encoded, which costs a few µs but is rare.
 */
export function admitRecord(value: Uint8Array): RecordAdmission {
  if (isJsonRecord(value)) {
    const decoded = decodeTelemetryRecord(value);
    return decoded.ok ? { ok: true, row: recordRow(encodeTelemetryRecord(decoded.point)) } : decoded;
  }
  const verdict = checkTelemetryRecord(value);
  return verdict.ok ? { ok: true, row: recordRow(value) } : verdict;
}
