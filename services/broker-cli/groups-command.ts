import { type Command, operand, printJson } from "./cli-context.ts";
import { printTable } from "./table.ts";

const groupsList: Command = {
  words: ["groups", "list"],
  operands: [],
  flags: {},
  summary: "every consumer group: state, generation, members",
  async run(context) {
    const listing = await context.admin.listGroups();
    if (context.json) {
      printJson(context, listing);
      return 0;
    }
    const rows = listing.groups.map((g) => [g.group, g.state, g.generation, g.memberCount]);
    printTable(context.out, ["GROUP", "STATE", "GENERATION", "MEMBERS"], rows);
    return 0;
  },
};

const groupsDescribe: Command = {
  words: ["groups", "describe"],
  operands: ["group"],
  flags: {},
  summary: "a group's members and, per partition, committed offset, high watermark, lag and owner",
  async run(context) {
    const info = await context.admin.describeGroup(operand(context, "group"));
    if (context.json) {
      printJson(context, info);
      return 0;
    }
    context.out(
      `group ${info.group}: ${info.state}, generation ${info.generation}, ${info.members.length} members, total lag ${info.lag.totalLag}`,
    );
    const clientOf = new Map(info.members.map((m) => [m.memberId, m.clientId]));
    const rows = info.lag.partitions.map((p) => [
      p.topic,
      p.partition,
      p.committed ?? "-",
      p.highWatermark,
      p.lag,
      p.memberId === null ? "-" : `${clientOf.get(p.memberId) ?? "?"} (${p.memberId.slice(0, 8)})`,
    ]);
    printTable(context.out, ["TOPIC", "PARTITION", "COMMITTED", "HIGH-WATERMARK", "LAG", "OWNER"], rows);
    return 0;
  },
};

const groupsDelete: Command = {
  words: ["groups", "delete"],
  operands: ["group"],
  flags: {},
  summary: "delete a group without members, with its committed offsets",
  async run(context) {
    const group = operand(context, "group");
    await context.admin.deleteGroup(group);
    if (context.json) printJson(context, { group, deleted: true });
    else context.out(`deleted group ${group} and its committed offsets`);
    return 0;
  },
};

export const groupsCommands: readonly Command[] = [groupsList, groupsDescribe, groupsDelete];
