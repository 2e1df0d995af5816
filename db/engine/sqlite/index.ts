import type BetterSqlite3 from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'
import type { Database } from '../../types.js'
import type { Engine } from '../engine.js'
import { currentExtension, OutsideWriteOnly, refuseNestedWrite } from '../write-scope.js'
import { ChangeWatch } from './change-watch.js'
import { compileSqlite } from './compiled.js'
import { openReadConnection, openSqlite, StatementCachingDatabase, type SqliteOptions } from './connection.js'
import { sqliteDialectSql } from './dialect.js'
import { migrateSqlite } from './migrate.js'
import { WriteBatcher } from './writer.js'

export type { SqliteOptions, Synchronous } from './connection.js'
export { MAX_BATCH } from './writer.js'

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
 * (./writer.ts), a query-only read connection for compiled reads (none for ':memory:', where a
 * second connection would open another, empty database), and the change watch that the caches
 * rely on (./change-watch.ts).
 */
export function openSqliteEngine (options: SqliteOptions): SqliteEngine {
  const sqlite = openSqlite(options)
  const base = new Kysely<Database>({ dialect: new SqliteDialect({ database: new StatementCachingDatabase(sqlite) }) })
  const reader = options.file !== ':memory:' && options.readonly !== true
    ? new StatementCachingDatabase(openReadConnection(options))
    : undefined
  // the read connection sees every commit but its own (it makes none); without one, the main
  // connection's own writes count too
  const watch = new ChangeWatch(options.file, reader?.raw ?? sqlite, reader === undefined)
  const batcher = new WriteBatcher(base)
  const ping = sqlite.prepare('select 1')
  let closed = false

  const engine: SqliteEngine = {
    dialect: 'sqlite',
    db: base.withPlugin(new OutsideWriteOnly()),
    sqlite,
    readConnection: reader?.raw,
    file: options.file,
    async write (fn) {
      refuseNestedWrite()
      // read now, in the caller's async context: the batch runs the unit from another one
      const extension = currentExtension()
      if (extension === undefined) return await batcher.run(fn)
      const value = await batcher.run(extension.extend(fn))
      extension.committed()
      return value
    },
    compile: (build) => compileSqlite(base, reader, build),
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
      reader?.close()
      await base.destroy()
    }
  }
  return engine
}
