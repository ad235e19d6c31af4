import type { TObject } from "@sinclair/typebox";
import { BrokerConfig } from "../../../brokers/server/config.ts";
import { ApiConfig } from "../../../services/api/config.ts";

/** Container name in the chart → the config schema of the process it runs. */
export const deployedServices: Record<string, TObject> = {
  broker: BrokerConfig,
  api: ApiConfig,
};
