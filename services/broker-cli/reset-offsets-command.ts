import type { Admin } from "../../src/broker-client/admin.ts";
import { BrokerClientError } from "../../src/broker-client/http-client.ts";
import type { OffsetResetTarget, ResetOffsetsResult } from "../../src/broker-protocol/group-protocol.ts";
import { type CliContext, type Command, integerFlag, operand, printJson, switchFlag, textFlag } from "./cli-context.ts";
import { UsageError } from "./command-line.ts";
import { printTable } from "./table.ts";

type Target = Omit<OffsetResetTarget, "partition">;

/**
 * `groups reset-offsets`, as Kafka's: every partition of a topic (or one) to the
 * earliest or latest offset, to a time or to an offset. The broker resolves times
 * through its time index and moves all the partitions or none.
 */
export const resetOffsetsCommand: Command = {
  words: ["groups", "reset-offsets"],
  operands: ["group"],
  flags: {
    topic: { kind: "text", value: "TOPIC", help: "the topic whose committed offsets move (required)" },
    "to-earliest": { kind: "switch", help: "to the first offset still stored" },
    "to-latest": { kind: "switch", help: "to the high watermark: skip everything stored now" },
    "to-datetime": {
      kind: "text",
      value: "TIME",
      help: "to the first record at or after TIME: RFC 3339 with a zone (2025-07-18T20:42:34Z) or epoch ms",
    },
    "to-offset": { kind: "integer", value: "N", help: "to offset N (within each partition's log)" },
    partition: { kind: "integer", value: "P", help: "only partition P (default: every partition of the topic)" },
    "dry-run": { kind: "switch", help: "show what would move and move nothing" },
  },
  summary: "move a group's committed offsets (Kafka's --reset-offsets)",
  synopsis:
    "--topic TOPIC (--to-earliest | --to-latest | --to-datetime TIME | --to-offset N) [--partition P] [--dry-run]",
  notes: [
    "Refused (409 partition_owned) for a partition a live member of the group owns: its next",
    "commit would undo the reset. Stop the group's members, or wait until their sessions end.",
  ],
  async run(context) {
    const group = operand(context, "group");
    const topic = textFlag(context, "topic");
    if (topic === undefined) throw new UsageError("groups reset-offsets: --topic is required", context.command.spec);
    const target = targetOf(context);
    const only = integerFlag(context, "partition");
    const partitions = only === undefined ? await allPartitions(context.admin, topic) : [only];
    const offsets = partitions.map((partition) => ({ partition, ...target }));
    const dryRun = switchFlag(context, "dry-run");
    let result: ResetOffsetsResult;
    try {
      result = await context.admin.resetGroupOffsets(group, { topic, offsets, dryRun });
    } catch (error) {
      if (error instanceof BrokerClientError && error.code === "partition_owned")
        throw new Error(await ownedMessage(context.admin, group, error));
      throw error;
    }
    if (context.json) printJson(context, result);
    else printResult(context, result);
    return 0;
  },
};

const targetFlags = ["to-earliest", "to-latest", "to-datetime", "to-offset"] as const;

function targetOf(context: CliContext): Target {
  const given = targetFlags.filter((name) => context.command.flags.has(name));
  if (given.length !== 1) {
    const which = given.length === 0 ? "none" : given.map((name) => `--${name}`).join(" and ");
    throw new UsageError(
      `groups reset-offsets: give exactly one of --${targetFlags.join(", --")} (got ${which})`,
      context.command.spec,
    );
  }
  if (switchFlag(context, "to-earliest")) return { position: "earliest" };
  if (switchFlag(context, "to-latest")) return { position: "latest" };
  const offset = integerFlag(context, "to-offset");
  if (offset !== undefined) return { offset };
  const text = textFlag(context, "to-datetime") ?? "";
  const timestampMs = parseDateTime(text);
  if (timestampMs === undefined) {
    throw new UsageError(
      `--to-datetime wants RFC 3339 with a zone, like 2025-07-18T20:42:34Z or 2025-07-18T13:42:34.5-07:00, or epoch milliseconds; got "${text}"`,
      context.command.spec,
    );
  }
  return { timestampMs };
}

const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * Epoch milliseconds of an RFC 3339 time with its zone, or of plain epoch ms. A time
 * without a zone is refused: whose clock it means would be a guess.
 */
export function parseDateTime(text: string): number | undefined {
  if (/^\d{1,16}$/.test(text)) return Number(text);
  if (!rfc3339.test(text)) return undefined;
  const ms = Date.parse(text.replace(" ", "T"));
  return Number.isSafeInteger(ms) && ms >= 0 ? ms : undefined;
}

async function allPartitions(admin: Admin, topic: string): Promise<number[]> {
  const info = await admin.describeTopic(topic);
  return info.partitions.map((partition) => partition.partition);
}

function printResult(context: CliContext, result: ResetOffsetsResult): void {
  const verb = result.dryRun ? "would move (dry run: nothing moved)" : "moved";
  context.out(`group ${result.group}, topic ${result.topic}: ${verb} ${result.partitions.length} partitions`);
  const rows = result.partitions.map((entry) => [
    entry.partition,
    entry.before ?? "-",
    entry.after,
    entry.before === null ? "-" : signed(entry.after - entry.before),
    entry.logStartOffset,
    entry.highWatermark,
  ]);
  printTable(context.out, ["PARTITION", "BEFORE", "AFTER", "CHANGE", "LOG-START", "HIGH-WATERMARK"], rows);
}

function signed(value: number): string {
  return value > 0 ? `+${value}` : String(value);
}

/** The 409 in words: which members own what, and what to do. */
async function ownedMessage(admin: Admin, group: string, error: BrokerClientError): Promise<string> {
  const owners = new Set<string>();
  try {
    const detail = await admin.describeGroup(group);
    for (const member of detail.members) owners.add(`${member.clientId} (${member.memberId.slice(0, 8)})`);
  } catch {
    // The refusal says enough without the owners' names.
  }
  const who = owners.size === 0 ? "" : ` Live members: ${[...owners].join(", ")}.`;
  return (
    `${error.body?.message ?? error.message} (409 partition_owned).${who} A member's next commit would undo the reset: ` +
    `stop the group's members (or wait until their sessions time out) and run it again.`
  );
}
