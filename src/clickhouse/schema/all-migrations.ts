import { datapointsMigration } from "./0001-datapoints.ts";
import { gpuRegistryMigration } from "./0002-gpu-registry.ts";
import { rollupMigration } from "./0003-rollup-1m.ts";
import { minuteFanoutMigration } from "./0004-minute-fanout.ts";
import { gpuWorkloadMigration } from "./0005-gpu-workload.ts";
import { sourceOffsetsMigration } from "./0006-source-offsets.ts";
import { migInstancesMigration } from "./0007-mig-instances.ts";
import type { Migration } from "./migration.ts";

/** Every schema change, in the order it is applied. Append only: never edit an applied one. */
export const migrations: readonly Migration[] = Object.freeze([
  datapointsMigration,
  gpuRegistryMigration,
  rollupMigration,
  minuteFanoutMigration,
  gpuWorkloadMigration,
  sourceOffsetsMigration,
  migInstancesMigration,
]);
