import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { Kysely, SqliteDialect, type SqliteDatabase, type SqliteStatement } from 'kysely'
import { ChangeWatch } from './change-watch.js'
import type { Database } from './types.js'

export type Synchronous = 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA'

export interface OpenOptions {
  /** SQLite file path, or ':memory:' */
  file: string
  /** durability of a commit; FULL (the default) means an acknowledged write is on disk */
  synchronous?: Synchronous
  /** how long a writer waits for another process's lock before SQLITE_BUSY */
  busyTimeoutMs?: number
  readonly?: boolean
}

export interface DatabaseHandle {
  /** the query builder every module uses */
  db: Kysely<Database>
  /** the underlying connection, for pragmas, backups and integrity checks */
  sqlite: BetterSqlite3.Database
  close(): Promise<void>
}

/**
 * A second, query-only connection to the same file for hot-path reads (see db/precompiled.ts).
 * In WAL mode it reads the last committed state without waiting for the writer and never sees a
 * write transaction that is still open on the main connection; better-sqlite3 runs its statements
 * synchronously, so they skip the driver's connection queue. None for ':memory:' databases (a
 * second connection would see another, empty database): there reads use the main connection.
 */
const readers = new WeakMap<Kysely<Database>, StatementCachingDatabase>()

export function readerFor (db: Kysely<Database>): StatementCachingDatabase | undefined {
  return readers.get(db)
}

const watches = new WeakMap<Kysely<Database>, ChangeWatch>()

/**
 * Notices commits by any connection in any process (db/change-watch.ts). None for a Kysely
 * instance openDatabase() did not make, such as a transaction's `trx`.
 */
export function changeWatchFor (db: Kysely<Database>): ChangeWatch | undefined {
  return watches.get(db)
}

const STATEMENT_CACHE_LIMIT = 2000

/**
 * Kysely's SQLite driver calls `prepare(sql)` for every query. Preparing costs more than running
 * a small indexed query, so this wrapper keeps one prepared statement per SQL text. Kysely only
 * runs one query at a time on the connection, and never iterates a cached statement while reusing
 * it, so sharing statements is safe.
 */
export class StatementCachingDatabase implements SqliteDatabase {
  readonly #statements = new Map<string, BetterSqlite3.Statement>()

  constructor (readonly raw: BetterSqlite3.Database) {}

  prepare (sql: string): SqliteStatement {
    let statement = this.#statements.get(sql)
    if (statement === undefined) {
      statement = this.raw.prepare(sql)
      if (this.#statements.size >= STATEMENT_CACHE_LIMIT) this.#statements.clear()
      this.#statements.set(sql, statement)
    }
    return statement as unknown as SqliteStatement
  }

  close (): void {
    this.#statements.clear()
    if (this.raw.open) this.raw.close()
  }
}

export function openSqlite (options: OpenOptions): BetterSqlite3.Database {
  if (options.file !== ':memory:' && !options.readonly) {
    mkdirSync(dirname(options.file), { recursive: true })
  }
  const sqlite = new BetterSqlite3(options.file, { readonly: options.readonly ?? false })
  sqlite.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`)
  if (!options.readonly) {
    if (options.file !== ':memory:') sqlite.pragma('journal_mode = WAL')
    sqlite.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`)
  }
  sqlite.pragma('foreign_keys = ON')
  return sqlite
}

export function openDatabase (options: OpenOptions): DatabaseHandle {
  const sqlite = openSqlite(options)
  const wrapper = new StatementCachingDatabase(sqlite)
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: wrapper }) })
  let reader: StatementCachingDatabase | undefined
  if (options.file !== ':memory:' && options.readonly !== true) {
    const readConnection = new BetterSqlite3(options.file)
    readConnection.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`)
    readConnection.pragma('query_only = ON')
    reader = new StatementCachingDatabase(readConnection)
    readers.set(db, reader)
  }
  // the read connection sees every commit but its own (it makes none); without one, the main
  // connection's own writes count too
  const watch = new ChangeWatch(options.file, reader?.raw ?? sqlite, reader === undefined)
  watches.set(db, watch)
  let closed = false
  return {
    db,
    sqlite,
    async close () {
      if (closed) return
      closed = true
      readers.delete(db)
      watches.delete(db)
      watch.close()
      reader?.close()
      await db.destroy()
    }
  }
}
