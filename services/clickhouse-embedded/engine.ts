import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { Session } from "chdb";
import { writeEngineAccessConfig } from "./engine-access.ts";
import { fromEngineError } from "./errors.ts";
import { bodyNeedsSpool, InsertSpool, infileInsertSql } from "./insert-spool.ts";

/** What one engine call did, in the units ClickHouse's X-ClickHouse-Summary uses. */
export interface EngineResult {
  bytes: Uint8Array;
  rowsRead: number;
  bytesRead: number;
  rowsWritten: number;
  bytesWritten: number;
  elapsedNs: number;
}

export interface EngineQuery {
  sql: string;
  /** Output format when the SQL has no FORMAT clause. */
  format: string;
  /** `{name:Type}` values exactly as ClickHouse's HTTP `param_<name>` carries them (escaped text). */
  params?: Record<string, string>;
}

export interface EngineInsert {
  /** `INSERT INTO t [(cols)] [SETTINGS ...] FORMAT X`: the payload follows it unparsed. */
  prefix: string;
  body: Uint8Array;
}

/**
 * The chdb native calls this endpoint uses. They are reached directly, not through
 * `Session.queryBindAsync`, because that method re-escapes string values as if they
 * came from JS, while HTTP `param_*` values arrive already in ClickHouse's text form.
 */
interface NativeChdb {
  QueryAsyncConnection(
    connection: unknown,
    sql: string,
    format: string,
    params?: Record<string, string>,
  ): Promise<{ bytes: Uint8Array; elapsed: number; rowsRead: number; bytesRead: number }>;
  InsertRawAsyncConnection(
    connection: unknown,
    prefix: string,
    body: Uint8Array,
    /** Counts payload lines (rowsSent); not needed, the engine reports rowsWritten. */
    countLines: boolean,
  ): Promise<{ elapsed: number; rowsWritten: number; bytesWritten: number }>;
}

function loadNative(): NativeChdb {
  // chdb's own loader caches the addon, so this is the very module its Session uses.
  const requireHere = createRequire(import.meta.url);
  const loaderPath = join(dirname(requireHere.resolve("chdb")), "dist", "loader.js");
  const loader = requireHere(loaderPath) as { loadNative: () => Record<string, unknown> };
  const native = loader.loadNative();
  for (const name of ["QueryAsyncConnection", "InsertRawAsyncConnection"]) {
    if (typeof native[name] !== "function") {
      throw new Error(`chdb native addon at ${loaderPath} lacks ${name}: unsupported chdb version`);
    }
  }
  return native as unknown as NativeChdb;
}

/**
 * Make the engine behave like clickhouse-server rather than clickhouse-local:
 * load every table before the first query (a restart never answers "unknown table"),
 * and refuse a bare expression as a query, as a server does.
 */
const serverLikeArgs = ["--async_load_databases=0", "--implicit_select=0"];

export interface EngineOptions {
  /**
   * Size of ClickHouse's uncompressed (decoded) block cache, a server setting that is 0
   * in chdb. Queries opt in with `use_uncompressed_cache = 1`; a hit skips the ZSTD and
   * DoubleDelta/Gorilla decoding of a block. Parts never change, so it is never stale.
   */
  uncompressedCacheBytes?: number;
  /** A connection whose every query runs under this `readonly` level (ClickHouse's 1 or 2); 0 for none. */
  readonly?: 0 | 1 | 2;
}

/** Output left in the connection buffer by a failed query is flushed by at most this many probes. */
const flushProbesMax = 3;
const flushProbeSql = "SELECT 'flushed'";
const flushProbeExpected = "flushed\n";

/**
 * One chdb connection on one data directory. Calls must not overlap: the executor
 * runs them one at a time. A failed query can leave partial output in the engine's
 * buffer that would be prepended to the next result, so every failure is followed
 * by probes until a probe reads back clean.
 */
export class Engine {
  private session: Session | undefined;
  private readonly spool = new InsertSpool();
  private constructor(
    private readonly native: NativeChdb,
    session: Session,
    readonly dataDir: string,
    readonly version: string,
    readonly timezone: string,
  ) {
    this.session = session;
  }

  static async open(dataDir: string, options: EngineOptions = {}): Promise<Engine> {
    const absolute = resolve(dataDir);
    mkdirSync(absolute, { recursive: true });
    const native = loadNative();
    const accessArg = writeEngineAccessConfig(absolute);
    const readonlyArgs = (options.readonly ?? 0) > 0 ? [`--readonly=${options.readonly}`] : [];
    const session = new Session(absolute, {
      connectionArgs: [...serverLikeArgs, accessArg, ...cacheArgs(options), ...readonlyArgs],
    });
    const probe = await native.QueryAsyncConnection(session.connection, "SELECT version(), timezone()", "TabSeparated");
    const [version, timezone] = new TextDecoder().decode(probe.bytes).trim().split("\t");
    if (version === undefined || timezone === undefined) {
      session.close();
      throw new Error(`chdb at ${absolute} did not report version and timezone`);
    }
    return new Engine(native, session, absolute, version, timezone);
  }

  async query(request: EngineQuery): Promise<EngineResult> {
    const connection = this.connection();
    try {
      const hasParams = request.params !== undefined && Object.keys(request.params).length > 0;
      const raw = hasParams
        ? await this.native.QueryAsyncConnection(connection, request.sql, request.format, request.params)
        : await this.native.QueryAsyncConnection(connection, request.sql, request.format);
      return {
        bytes: raw.bytes,
        rowsRead: raw.rowsRead,
        bytesRead: raw.bytesRead,
        rowsWritten: 0,
        bytesWritten: 0,
        elapsedNs: Math.round(raw.elapsed * 1e9),
      };
    } catch (error) {
      await this.flushAfterFailure();
      throw fromEngineError(error);
    }
  }

  async insert(request: EngineInsert): Promise<EngineResult> {
    if (bodyNeedsSpool(request.body)) return this.spooledInsert(request);
    const connection = this.connection();
    try {
      const raw = await this.native.InsertRawAsyncConnection(connection, request.prefix, request.body, false);
      return {
        bytes: new Uint8Array(0),
        rowsRead: raw.rowsWritten,
        bytesRead: request.body.byteLength,
        rowsWritten: raw.rowsWritten,
        bytesWritten: raw.bytesWritten,
        elapsedNs: Math.round(raw.elapsed * 1e9),
      };
    } catch (error) {
      await this.flushAfterFailure();
      throw fromEngineError(error);
    }
  }

  private async spooledInsert(request: EngineInsert): Promise<EngineResult> {
    const result = await this.spool.withFile(request.body, (path) =>
      this.query({ sql: infileInsertSql(request.prefix, path), format: "TabSeparated" }),
    );
    return { ...result, bytesRead: request.body.byteLength, rowsWritten: result.rowsRead };
  }

  get isOpen(): boolean {
    return this.session !== undefined;
  }

  /** Releases the connection; the caller guarantees no call is running. */
  close(): void {
    this.spool.close();
    this.session?.close();
    this.session = undefined;
  }

  private connection(): unknown {
    if (this.session === undefined) throw new Error(`chdb engine at ${this.dataDir} is closed`);
    return this.session.connection;
  }

  private async flushAfterFailure(): Promise<void> {
    const connection = this.connection();
    for (let probe = 0; probe < flushProbesMax; probe++) {
      try {
        const raw = await this.native.QueryAsyncConnection(connection, flushProbeSql, "TabSeparated");
        if (new TextDecoder().decode(raw.bytes) === flushProbeExpected) return;
      } catch {
        // A probe that fails leaves nothing new behind; try the next one.
      }
    }
    throw new Error(`chdb at ${this.dataDir}: output buffer still dirty after ${flushProbesMax} flush probes`);
  }
}

function cacheArgs(options: EngineOptions): string[] {
  const bytes = options.uncompressedCacheBytes ?? 0;
  if (!Number.isSafeInteger(bytes) || bytes < 0)
    throw new RangeError(`uncompressedCacheBytes must be a non-negative integer, got ${bytes}`);
  return [`--uncompressed_cache_size=${bytes}`];
}
