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

/** One partition's range in an insert that covered several partitions. */
export const GroupMember = Type.Object(
  {
    partition: Type.Integer({ minimum: 0 }),
    first: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    last: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  },
  { $id: "GroupMember", additionalProperties: false },
);
export type GroupMember = Static<typeof GroupMember>;

/** Most partitions one insert covers; also bounds an intent record's size. */
export const groupMembersMax = 64;

/**
 * A range announced before its insert. `group`, when present, lists every partition's
 * range of that one insert (this one included), in insert order: a replay must insert
 * exactly that group again, under its token, for ClickHouse to recognise it.
 */
export const InsertIntent = Type.Object(
  {
    first: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    last: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    group: Type.Optional(Type.Array(GroupMember, { minItems: 2, maxItems: groupMembersMax })),
  },
  { $id: "InsertIntent", additionalProperties: false },
);
export type InsertIntent = Static<typeof InsertIntent>;
