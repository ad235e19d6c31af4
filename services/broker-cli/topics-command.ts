import type { Admin } from "../../src/broker-client/admin.ts";
import { integerOption, type ParsedArgs } from "./parse-args.ts";
import { formatTable } from "./table.ts";

export async function runTopicsCommand(
  admin: Admin,
  rest: string[],
  args: ParsedArgs,
  out: (line: string) => void,
): Promise<number> {
  const [action, topic] = rest;
  if (action === "list") {
    const { topics } = await admin.listTopics();
    for (const line of formatTable(
      ["TOPIC", "PARTITIONS"],
      topics.map((t) => [t.name, t.partitions]),
    ))
      out(line);
    return 0;
  }
  if (topic === undefined) throw new Error(`topics ${action ?? ""}: which topic?`);
  if (action === "create") {
    const info = await admin.createTopic(topic, integerOption(args, "partitions"));
    out(`created topic ${info.name} with ${info.partitions.length} partitions`);
    return 0;
  }
  if (action === "describe") {
    const info = await admin.describeTopic(topic);
    const rows = info.partitions.map((p) => [
      p.partition,
      p.logStartOffset,
      p.highWatermark,
      p.highWatermark - p.logStartOffset,
      p.sizeBytes,
    ]);
    out(`topic ${info.name}: ${info.partitions.length} partitions`);
    for (const line of formatTable(["PARTITION", "START", "HIGH-WATERMARK", "RECORDS", "BYTES"], rows)) out(line);
    return 0;
  }
  throw new Error(`topics: unknown action ${action ?? "(none)"}; use list, create or describe`);
}
