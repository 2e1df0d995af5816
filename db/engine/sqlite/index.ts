import type BetterSqlite3 from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'
import type { Database } from '../../types.js'
import type { Engine } from '../engine.js'
import { extendedUnit, writeGuard } from '../write-scope.js'
import { ChangeWatch } from './change-watch.js'
import { compileSqlite } from './compiled.js'
import { openReadConnection, openSqlite, StatementCachingDatabase, type SqliteOptions } from './connection.js'
import { sqliteDialectSql } from './dialect.js'
import { migrateSqlite } from './migrate.js'
import { WriteBatcher } from './writer.js'

export type { SqliteOptions, Synchronous } from './connection.js'
export { MAX_BATCH, WRITE_WAIT_LIMIT_MS, WriteWaitExceeded } from './writer.js'

export interface SqliteEngineOptions extends SqliteOptions {
  /** the misuse check (db/engine/write-scope.ts); on unless turned off (production) */
  writeGuard?: boolean
  /** how long a write may wait behind a batch that has not finished before it is refused (./writer.ts) */
  writeWaitLimitMs?: number
}

/** The SQLite engine, plus what only SQLite has: its raw connection (backup, integrity checks, pragmas). */
export interface SqliteEngine extends Engine {
  readonly dialect: 'sqlite'
  /** the writing connection itself: for `backup`, pragmas and integrity checks, never for data */
  readonly sqlite: BetterSqlite3.Database
  /** the query-only connection compiled reads use; none for ':memory:' */
  readonly readConnection: BetterSqlite3.Database | undefined
  /** the file opened, or ':memory:' */
  readonly file: string
  /** like migrate(), and says which migrations it applied */
  migrateReport: () => Promise<string[]>
}

/** Error messages better-sqlite3 and Kysely give once the connection is closed (shutting down). */
const CLOSED = /database connection is not open|driver has already been destroyed/i

/**
 * One SQLite file in WAL mode: one writing connection shared by every write through group commit
 * (./writer.ts), a query-only read connection for `db` and compiled reads (none for ':memory:',
 * where a second connection would open another, empty database), and the change watch that the
 * caches rely on (./change-watch.ts).
 *
 * With the write guard off, misuse still cannot hang: `db` reads on the read connection, which
 * never waits for the writer (and refuses writes at once: writes belong in `write`), and a write
 * that waits behind a batch past the wait limit is refused, so a write started inside a write
 * fails its unit instead of waiting for it forever. Only ':memory:' (tests and tools, which run
 * the guard) has `db` on the writing connection.
 */
export function openSqliteEngine (options: SqliteEngineOptions): SqliteEngine {
  const sqlite = openSqlite(options)
  const base = new Kysely<Database>({ dialect: new SqliteDialect({ database: new StatementCachingDatabase(sqlite) }) })
  const reader = options.file !== ':memory:' && options.readonly !== true
    ? new StatementCachingDatabase(openReadConnection(options))
    : undefined
  const readDb = reader === undefined ? base : new Kysely<Database>({ dialect: new SqliteDialect({ database: reader }) })
  // the read connection sees every commit but its own (it makes none); without one, the main
  // connection's own writes count too
  const watch = new ChangeWatch(options.file, reader?.raw ?? sqlite, reader === undefined)
  const guard = writeGuard(options.writeGuard ?? true)
  const batcher = new WriteBatcher(base, guard, options.writeWaitLimitMs)
  const ping = sqlite.prepare('select 1')
  let closed = false

  const engine: SqliteEngine = {
    dialect: 'sqlite',
    db: guard.outsideWriteOnly(readDb),
    sqlite,
    readConnection: reader?.raw,
    file: options.file,
    async write (fn, writeOptions) {
      guard.refuseNestedWrite()
      const { unit, committed } = extendedUnit(fn, writeOptions)
      const value = await batcher.run(unit)
      committed()
      return value
    },
    compile: (build, options) => compileSqlite(base, reader, guard, build, options),
    changes: watch,
    wakeups: undefined,
    sql: sqliteDialectSql,
    migrate: async () => { await migrateSqlite(base) },
    migrateReport: async () => await migrateSqlite(base),
    async ping () {
      ping.get()
    },
    isUnavailable: (err) => err instanceof Error && CLOSED.test(err.message),
    async close () {
      if (closed) return
      closed = true
      watch.close()
      // the reader directly: its Kysely instance only closes a connection it has used
      reader?.close()
      await base.destroy()
    }
  }
  return engine
}
