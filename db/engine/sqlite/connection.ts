import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import type { SqliteDatabase, SqliteStatement } from 'kysely'
import { BOOLEAN_COLUMNS } from '../../types.js'

export type Synchronous = 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA'

export interface SqliteOptions {
  /** SQLite file path, or ':memory:' */
  file: string
  /** durability of a commit; FULL (the default) means an acknowledged write is on disk */
  synchronous?: Synchronous
  /** how long a writer waits for another process's lock before SQLITE_BUSY */
  busyTimeoutMs?: number
  readonly?: boolean
}

export function openSqlite (options: SqliteOptions): BetterSqlite3.Database {
  if (options.file !== ':memory:' && options.readonly !== true) {
    mkdirSync(dirname(options.file), { recursive: true })
  }
  const sqlite = new BetterSqlite3(options.file, { readonly: options.readonly ?? false })
  sqlite.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`)
  if (options.readonly !== true) {
    if (options.file !== ':memory:') sqlite.pragma('journal_mode = WAL')
    sqlite.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`)
  }
  sqlite.pragma('foreign_keys = ON')
  return sqlite
}

/** A second, query-only connection to the same file: reads the last committed state without waiting for the writer. */
export function openReadConnection (options: SqliteOptions): BetterSqlite3.Database {
  const reader = new BetterSqlite3(options.file)
  reader.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`)
  reader.pragma('query_only = ON')
  return reader
}

const STATEMENT_CACHE_LIMIT = 2000
const BOOLEANS: ReadonlySet<string> = new Set(BOOLEAN_COLUMNS)

/** better-sqlite3 binds numbers, strings, bigints, buffers and null: a boolean goes in as 1/0. */
function bindable (parameters: ReadonlyArray<unknown>): ReadonlyArray<unknown> {
  let copy: unknown[] | undefined
  for (let i = 0; i < parameters.length; i++) {
    const value = parameters[i]
    if (typeof value === 'boolean') {
      copy ??= [...parameters]
      copy[i] = value ? 1 : 0
    }
  }
  return copy ?? parameters
}

/**
 * A prepared statement as Kysely's driver and the compiled queries run it: the one place where
 * SQLite's 0/1 becomes the rows' `boolean` and back. The result columns named in BOOLEAN_COLUMNS
 * (db/types.ts) are found once per statement, from its declared result columns.
 */
export class ConvertingStatement implements SqliteStatement {
  readonly reader: boolean
  readonly #booleans: readonly string[]

  constructor (readonly raw: BetterSqlite3.Statement) {
    this.reader = raw.reader
    this.#booleans = raw.reader ? raw.columns().map((c) => c.name).filter((name) => BOOLEANS.has(name)) : []
  }

  #convert (row: unknown): unknown {
    const record = row as Record<string, unknown>
    for (const name of this.#booleans) {
      const value = record[name]
      if (value === 1) record[name] = true
      else if (value === 0) record[name] = false
    }
    return row
  }

  all (parameters: ReadonlyArray<unknown>): unknown[] {
    const rows = this.raw.all(bindable(parameters))
    if (this.#booleans.length > 0) for (const row of rows) this.#convert(row)
    return rows
  }

  run (parameters: ReadonlyArray<unknown>): { changes: number | bigint, lastInsertRowid: number | bigint } {
    return this.raw.run(bindable(parameters))
  }

  * iterate (parameters: ReadonlyArray<unknown>): IterableIterator<unknown> {
    for (const row of this.raw.iterate(bindable(parameters))) yield this.#booleans.length > 0 ? this.#convert(row) : row
  }
}

/**
 * Kysely's SQLite driver calls `prepare(sql)` for every query. Preparing costs more than running
 * a small indexed query, so this wrapper keeps one prepared statement per SQL text. Kysely only
 * runs one query at a time on the connection, and never iterates a cached statement while reusing
 * it, so sharing statements is safe.
 */
export class StatementCachingDatabase implements SqliteDatabase {
  readonly #statements = new Map<string, ConvertingStatement>()

  constructor (readonly raw: BetterSqlite3.Database) {}

  prepare (sql: string): ConvertingStatement {
    let statement = this.#statements.get(sql)
    if (statement === undefined) {
      statement = new ConvertingStatement(this.raw.prepare(sql))
      if (this.#statements.size >= STATEMENT_CACHE_LIMIT) this.#statements.clear()
      this.#statements.set(sql, statement)
    }
    return statement
  }

  close (): void {
    this.#statements.clear()
    if (this.raw.open) this.raw.close()
  }
}
