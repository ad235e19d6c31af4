import { Producer } from "../../src/broker-client/producer.ts";
import { type Command, operand, printJson } from "./cli-context.ts";

/** Reads "key<TAB>value" lines from stdin (a line without a tab is a value with an empty key). */
export const produceCommand: Command = {
  words: ["produce"],
  operands: ["topic"],
  flags: {},
  summary: 'send stdin\'s lines "key<TAB>value" as records (a line without a tab: value only)',
  async run(context) {
    const topic = operand(context, "topic");
    const producer = await Producer.create({ ...context.connection, topic, createTopic: true });
    let count = 0;
    let pending = "";
    const decoder = new TextDecoder();
    for await (const chunk of Bun.stdin.stream()) {
      pending += decoder.decode(chunk, { stream: true });
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) count += await sendLine(producer, line);
    }
    count += await sendLine(producer, pending);
    await producer.close();
    if (context.json) printJson(context, { topic, records: count });
    else context.out(`produced ${count} records to ${topic}`);
    return 0;
  },
};

async function sendLine(producer: Producer, line: string): Promise<number> {
  const trimmed = line.endsWith("\r") ? line.slice(0, -1) : line;
  if (trimmed === "") return 0;
  const tab = trimmed.indexOf("\t");
  const key = tab < 0 ? "" : trimmed.slice(0, tab);
  const value = tab < 0 ? trimmed : trimmed.slice(tab + 1);
  await producer.send({ key, value });
  return 1;
}
