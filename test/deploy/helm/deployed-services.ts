import type { TObject } from "@sinclair/typebox";
import { BrokerConfig } from "../../../brokers/server/config.ts";
import { ApiConfig } from "../../../services/api/config.ts";
import { CollectorConfig } from "../../../services/collector/config.ts";
import { MigrateConfig } from "../../../services/migrate/config.ts";
import { StreamerConfig } from "../../../services/streamer/config.ts";

/** Container name in the chart → the config schema of the process it runs. */
export const deployedServices: Record<string, TObject> = {
  broker: BrokerConfig,
  api: ApiConfig,
  streamer: StreamerConfig,
  collector: CollectorConfig,
  migrate: MigrateConfig,
};
