import { describe, expect, test } from "bun:test";
import {
  deletedPartitionDirName,
  isDeletedDirName,
  looksLikePartitionDirName,
  offsetFileStem,
  parseSegmentFileName,
  parseTopicMetadataName,
  partitionDirName,
} from "../../../brokers/log/file-names.ts";

describe("file names", () => {
  test("offsets are zero-padded to 20 digits so names sort like offsets", () => {
    expect(offsetFileStem(0)).toBe("00000000000000000000");
    expect(offsetFileStem(1234)).toBe("00000000000000001234");
    const names = [987_654_321, 5, 40_000].map(offsetFileStem);
    expect(names.sort().map(Number)).toEqual([5, 40_000, 987_654_321]);
    expect(() => offsetFileStem(-1)).toThrow(RangeError);
  });

  test("parses segment and metadata names, rejects look-alikes", () => {
    expect(parseSegmentFileName("00000000000000001234.log", ".log")).toBe(1234);
    expect(parseSegmentFileName("00000000000000001234.log.deleted", ".log")).toBeUndefined();
    expect(parseSegmentFileName("1234.log", ".log")).toBeUndefined();
    expect(parseSegmentFileName("0000000000000000123x.log", ".log")).toBeUndefined();
    expect(parseTopicMetadataName("my.topic-1.topic.json")).toBe("my.topic-1");
    expect(partitionDirName("my-topic", 3)).toBe("my-topic-3");
  });

  test("a deleted partition directory never has a live partition's name", () => {
    const name = deletedPartitionDirName("my.topic-1", 0, "abc123");
    expect(name).toBe("my.topic-1-0.abc123.deleted");
    expect(isDeletedDirName(name)).toBe(true);
    expect(looksLikePartitionDirName(name)).toBe(false);
    expect(looksLikePartitionDirName("my.topic-1-0")).toBe(true);
    expect(looksLikePartitionDirName("my.topic-01")).toBe(false);
    expect(looksLikePartitionDirName("lost+found")).toBe(false);
    expect(isDeletedDirName("x.deleted-0")).toBe(false);
    expect(() => deletedPartitionDirName("t", 0, "../x")).toThrow(RangeError);
  });
});
