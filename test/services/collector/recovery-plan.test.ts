import { expect, test } from "bun:test";
import { planRecovery } from "../../../services/collector/recovery-plan.ts";

test("nothing to do when every intent ends before the resume point", () => {
  expect(
    planRecovery(200, [
      { first: 0, last: 99 },
      { first: 100, last: 199 },
    ]),
  ).toEqual({ skipThroughOffset: -1, announced: [] });
  expect(planRecovery(0, [])).toEqual({ skipThroughOffset: -1, announced: [] });
});

test("intents from the resume point on are re-inserted as announced, in order", () => {
  const intents = [
    { first: 0, last: 99 },
    { first: 100, last: 149 },
    { first: 150, last: 230 },
  ];
  expect(planRecovery(100, intents)).toEqual({ skipThroughOffset: -1, announced: intents.slice(1) });
});

test("an intent containing the resume point was inserted in full: skip to its end, then replay the rest", () => {
  const intents = [
    { first: 100, last: 300 },
    { first: 301, last: 320 },
  ];
  expect(planRecovery(180, intents)).toEqual({ skipThroughOffset: 300, announced: [{ first: 301, last: 320 }] });
});

test("the newest intent for an offset wins, and a gap ends the chain", () => {
  const intents = [
    { first: 100, last: 120 },
    { first: 100, last: 140 },
    { first: 141, last: 150 },
    { first: 160, last: 170 },
  ];
  expect(planRecovery(100, intents)).toEqual({
    skipThroughOffset: -1,
    announced: [
      { first: 100, last: 140 },
      { first: 141, last: 150 },
    ],
  });
});
