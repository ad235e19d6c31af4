import { type Command, integerFlag, operand, printJson, switchFlag } from "./cli-context.ts";
import { printTable } from "./table.ts";

const topicsList: Command = {
  words: ["topics", "list"],
  operands: [],
  flags: {},
  summary: "every topic and its partition count",
  async run(context) {
    const list = await context.admin.listTopics();
    if (context.json) printJson(context, list);
    else
      printTable(
        context.out,
        ["TOPIC", "PARTITIONS"],
        list.topics.map((topic) => [topic.name, topic.partitions]),
      );
    return 0;
  },
};

const topicsCreate: Command = {
  words: ["topics", "create"],
  operands: ["topic"],
  flags: {
    partitions: {
      kind: "integer",
      value: "N",
      help: "partition count (default: the broker's BROKER_DEFAULT_PARTITIONS)",
    },
  },
  summary: "create a topic",
  async run(context) {
    const info = await context.admin.createTopic(operand(context, "topic"), integerFlag(context, "partitions"));
    if (context.json) printJson(context, info);
    else context.out(`created topic ${info.name} with ${info.partitions.length} partitions`);
    return 0;
  },
};

const topicsDescribe: Command = {
  words: ["topics", "describe"],
  operands: ["topic"],
  flags: {},
  summary: "per partition: start offset, high watermark, records and bytes",
  async run(context) {
    const info = await context.admin.describeTopic(operand(context, "topic"));
    if (context.json) {
      printJson(context, info);
      return 0;
    }
    const rows = info.partitions.map((p) => [
      p.partition,
      p.logStartOffset,
      p.highWatermark,
      p.highWatermark - p.logStartOffset,
      p.sizeBytes,
    ]);
    context.out(`topic ${info.name}: ${info.partitions.length} partitions`);
    printTable(context.out, ["PARTITION", "START", "HIGH-WATERMARK", "RECORDS", "BYTES"], rows);
    return 0;
  },
};

const topicsDelete: Command = {
  words: ["topics", "delete"],
  operands: ["topic"],
  flags: {
    force: { kind: "switch", help: "delete a protected topic too (BROKER_PROTECTED_TOPICS: the dead-letter topic)" },
  },
  summary: "delete a topic: its partitions' files and the groups' committed offsets of it",
  notes: [
    "Refused while a consumer group has members subscribed to it (stop them first). With",
    "BROKER_AUTO_CREATE_TOPICS on, a producer still writing to it creates it again, empty.",
  ],
  async run(context) {
    const deleted = await context.admin.deleteTopic(operand(context, "topic"), { force: switchFlag(context, "force") });
    if (context.json) {
      printJson(context, deleted);
      return 0;
    }
    const groups = deleted.groupsWithOffsetsRemoved;
    const offsets = groups.length === 0 ? "" : `; removed the committed offsets of group ${groups.join(", ")}`;
    context.out(`deleted topic ${deleted.name} (${deleted.partitions} partitions)${offsets}`);
    return 0;
  },
};

export const topicsCommands: readonly Command[] = [topicsList, topicsCreate, topicsDescribe, topicsDelete];
