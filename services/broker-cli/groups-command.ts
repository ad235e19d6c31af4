import type { Admin } from "../../src/broker-client/admin.ts";
import { formatTable } from "./table.ts";

export async function runGroupsCommand(admin: Admin, rest: string[], out: (line: string) => void): Promise<number> {
  const [action, group] = rest;
  if (action === "list") {
    const { groups } = await admin.listGroups();
    const rows = groups.map((g) => [g.group, g.state, g.generation, g.memberCount]);
    for (const line of formatTable(["GROUP", "STATE", "GENERATION", "MEMBERS"], rows)) out(line);
    return 0;
  }
  if (action === "describe") {
    if (group === undefined) throw new Error("groups describe: which group?");
    const info = await admin.describeGroup(group);
    out(
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
    for (const line of formatTable(["TOPIC", "PARTITION", "COMMITTED", "HIGH-WATERMARK", "LAG", "OWNER"], rows))
      out(line);
    return 0;
  }
  if (action === "delete") {
    if (group === undefined) throw new Error("groups delete: which group?");
    await admin.deleteGroup(group);
    out(`deleted group ${group} and its committed offsets`);
    return 0;
  }
  throw new Error(`groups: unknown action ${action ?? "(none)"}; use list, describe or delete`);
}
