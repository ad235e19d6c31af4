import { join } from "node:path";

/** Suffixes of the files a partition directory holds. */
export const Suffix = {
  log: ".log",
  index: ".index",
  timeIndex: ".timeindex",
  /** Appended to a segment file scheduled for deletion (never read again). */
  deleted: ".deleted",
} as const;

export const recoveryPointFileName = "recovery-point";
export const producerStateFileName = "producer-state.json";
export const topicMetadataSuffix = ".topic.json";

const offsetDigits = 20;

/** 20-digit zero-padded, so `ls` lists segments in offset order. */
export function offsetFileStem(baseOffset: number): string {
  if (!Number.isSafeInteger(baseOffset) || baseOffset < 0) throw new RangeError(`bad base offset ${baseOffset}`);
  return String(baseOffset).padStart(offsetDigits, "0");
}

export function segmentFilePath(dir: string, baseOffset: number, suffix: string): string {
  return join(dir, offsetFileStem(baseOffset) + suffix);
}

/** The base offset of a segment file name like `00000000000000001234.log`, else undefined. */
export function parseSegmentFileName(name: string, suffix: string): number | undefined {
  if (!name.endsWith(suffix)) return undefined;
  const stem = name.slice(0, -suffix.length);
  if (stem.length !== offsetDigits || !/^[0-9]+$/.test(stem)) return undefined;
  const offset = Number(stem);
  return Number.isSafeInteger(offset) ? offset : undefined;
}

export function partitionDirName(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

export function partitionDirPath(dataDir: string, topic: string, partition: number): string {
  return join(dataDir, partitionDirName(topic, partition));
}

/**
 * A deleted topic's partition directory is renamed to `<topic>-<p>.<stamp>.deleted`
 * before its files go (fileDeleteDelayMs later, or at the next open): the name never
 * matches a live partition again, so a topic created anew under the same name starts
 * empty. `stamp` keeps two deletions of the same name apart.
 */
export function deletedPartitionDirName(topic: string, partition: number, stamp: string): string {
  if (!/^[A-Za-z0-9]+$/.test(stamp)) throw new RangeError(`bad deletion stamp "${stamp}"`);
  return `${partitionDirName(topic, partition)}.${stamp}${Suffix.deleted}`;
}

export function isDeletedDirName(name: string): boolean {
  return name.endsWith(Suffix.deleted);
}

/** A name shaped like a partition directory (`<topic>-<partition>`), whether or not its topic exists. */
export function looksLikePartitionDirName(name: string): boolean {
  return /^[A-Za-z0-9._-]+-(0|[1-9][0-9]{0,5})$/.test(name);
}

export function topicMetadataPath(dataDir: string, topic: string): string {
  return join(dataDir, topic + topicMetadataSuffix);
}

/** The topic named by a metadata file name, else undefined. */
export function parseTopicMetadataName(name: string): string | undefined {
  return name.endsWith(topicMetadataSuffix) ? name.slice(0, -topicMetadataSuffix.length) : undefined;
}
