import { type Static, Type } from "@sinclair/typebox";

/** Inclusive offsets of one partition that go into ClickHouse as one insert. */
export const OffsetRange = Type.Object(
  {
    first: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    last: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  },
  { $id: "OffsetRange", additionalProperties: false },
);
export type OffsetRange = Static<typeof OffsetRange>;

export function rangeLength(range: OffsetRange): number {
  return range.last - range.first + 1;
}

export function assertRange(range: OffsetRange, where: string): void {
  if (
    !Number.isSafeInteger(range.first) ||
    !Number.isSafeInteger(range.last) ||
    range.first < 0 ||
    range.last < range.first
  ) {
    throw new RangeError(`${where}: bad offset range ${range.first}..${range.last}`);
  }
}

/** Most partitions one insert covers. */
export const groupMembersMax = 64;
