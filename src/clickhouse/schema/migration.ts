/**
 * One versioned schema change. Statements are templates: `{{db}}` is replaced by the
 * (validated) database name and `{{retention_days}}` by the configured retention, so the
 * checksum (taken over the templates) does not change when an operator changes settings.
 *
 * Every statement must be idempotent (`IF NOT EXISTS`, `ADD COLUMN IF NOT EXISTS`, ...):
 * two processes may apply the same migration at the same time.
 */
export interface Migration {
  version: number;
  name: string;
  statements: readonly string[];
}
