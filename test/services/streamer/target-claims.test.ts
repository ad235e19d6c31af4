import { expect, test } from "bun:test";
import { TargetClaims } from "../../../services/streamer/target-claims.ts";
import { partitionForKey } from "../../../src/broker-protocol/partitioner.ts";

const partitionCount = 12;
const targets = Array.from({ length: 40 }, (_, index) => ({
  url: `http://10.0.${index}.1:9400/metrics`,
  origin: `gpu/exporter-${index}`,
}));

function ownershipOf(owned: number[]) {
  const flags = new Uint8Array(partitionCount);
  for (const partition of owned) flags[partition] = 1;
  return {
    flags,
    alive: true,
    live(): boolean {
      return this.alive;
    },
  };
}

test("a target belongs to the partition its URL hashes to; two streamers with disjoint partitions split them exactly", () => {
  const first = new TargetClaims(ownershipOf([0, 1, 2, 3, 4, 5]), () => 0);
  const second = new TargetClaims(ownershipOf([6, 7, 8, 9, 10, 11]), () => 0);
  for (const target of targets) {
    expect(first.slotOf(target.url)).toBe(partitionForKey(target.url, partitionCount));
    expect(Number(first.owns(target.url)) + Number(second.owns(target.url))).toBe(1);
  }
  expect(first.ownedCount(targets) + second.ownedCount(targets)).toBe(targets.length);
  expect(first.ownedCount(targets)).toBeGreaterThan(0);
  expect(second.ownedCount(targets)).toBeGreaterThan(0);
});

test("a claim needs ownership and a live session, and one scrape of a target runs at a time", () => {
  const ownership = ownershipOf([...Array(partitionCount).keys()]);
  const claims = new TargetClaims(ownership, () => 0);
  const target = targets[0]!;
  const claim = claims.claim(target);
  expect(claim).toBeDefined();
  expect(claims.claim(target)).toBeUndefined();
  expect(claims.isScraping(target.url)).toBe(true);
  claim?.end();
  claim?.end();
  expect(claims.inFlightCount).toBe(0);
  ownership.alive = false;
  expect(claims.claim(target)).toBeUndefined();
  ownership.alive = true;
  ownership.flags[claims.slotOf(target.url)] = 0;
  expect(claims.claim(target)).toBeUndefined();
});

test("release aborts fetches still waiting for their body and waits for scrapes whose body arrived", async () => {
  const ownership = ownershipOf([...Array(partitionCount).keys()]);
  const claims = new TargetClaims(ownership, () => 0);
  const [waiting, fetched, elsewhere] = pickInDistinctSlots(claims, 3);
  const waitingClaim = claims.claim(waiting!)!;
  const fetchedClaim = claims.claim(fetched!)!;
  const elsewhereClaim = claims.claim(elsewhere!)!;
  fetchedClaim.fetched();
  waitingClaim.signal.addEventListener("abort", () => waitingClaim.end());
  let released = false;
  const releasing = claims.release([claims.slotOf(waiting!.url), claims.slotOf(fetched!.url)]).then(() => {
    released = true;
  });
  await Bun.sleep(10);
  expect(waitingClaim.signal.aborted).toBe(true);
  expect(fetchedClaim.signal.aborted).toBe(false);
  expect(released).toBe(false);
  fetchedClaim.end();
  await releasing;
  expect(released).toBe(true);
  expect(elsewhereClaim.signal.aborted).toBe(false);
  expect(claims.isScraping(elsewhere!.url)).toBe(true);
});

function pickInDistinctSlots(claims: TargetClaims, count: number) {
  const picked = new Map<number, (typeof targets)[number]>();
  for (const target of targets) {
    const slot = claims.slotOf(target.url);
    if (!picked.has(slot)) picked.set(slot, target);
    if (picked.size === count) break;
  }
  return [...picked.values()];
}
