import type { Logger as ClickHouseLogger, ErrorLogParams, LogParams, WarnLogParams } from "@clickhouse/client";
import type { Logger } from "../observability/logger.ts";

/**
 * @clickhouse/client's logger, writing through the process's pino logger: one JSON
 * object per line like every other line, instead of the client's default multi-line
 * console text. The client takes a class it constructs itself, so the class closes
 * over the logger.
 */
export function clickHouseLoggerClass(logger: Logger): new () => ClickHouseLogger {
  const child = logger.child({ component: "clickhouse-client" });
  const fields = (params: LogParams) => ({ module: params.module, ...params.args });
  return class PinoClickHouseLogger implements ClickHouseLogger {
    trace(params: LogParams): void {
      child.trace(fields(params), params.message);
    }
    debug(params: LogParams): void {
      child.debug(fields(params), params.message);
    }
    info(params: LogParams): void {
      child.info(fields(params), params.message);
    }
    warn(params: WarnLogParams): void {
      child.warn({ ...fields(params), ...(params.err === undefined ? {} : { err: params.err }) }, params.message);
    }
    error(params: ErrorLogParams): void {
      child.error({ ...fields(params), err: params.err }, params.message);
    }
  };
}
