import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { Kysely, SqliteDialect, sql } from 'kysely'
import { openPostgresEngine, type PostgresEngine } from './postgres/index.js'
import { syncIdSequences } from './postgres/sequences.js'
import { openSqlite, StatementCachingDatabase } from './sqlite/connection.js'
import { migrateSqlite } from './sqlite/migrate.js'

/** The copy did not start: the source or the target is not what it must be. Nothing was written. */
export class CopyRefused extends Error {}

/** A table's rows on PostgreSQL differ from the source's: the copy's transaction was rolled back. */
export class CopyVerificationFailed extends Error {
  constructor (message: string, readonly tables: TableCopy[]) {
    super(message)
  }
}

export interface CopyOptions {
  /** the SQLite file; read through a snapshot, so the server may keep running on it */
  from: string
  /** the empty PostgreSQL database (postgres:// URL) */
  to: string
  /** rows per INSERT and per page read (default 500) */
  batchSize?: number
  /** runs inside the copy's transaction once the rows are in, before verification (tests tamper here) */
  beforeVerify?: (trx: Kysely<any>) => Promise<void>
}

export interface TableCopy {
  table: string
  rows: number
  /** sha256 over the table's rows in primary-key order, the same on both sides when they match */
  sha256: string
  /** what PostgreSQL holds after the copy, when it differs from the source */
  target?: { rows: number, sha256: string }
}

export interface CopyReport {
  tables: TableCopy[]
  /** SQLite-only tables left behind: the search index and its shadow tables, the migration records */
  skipped: string[]
}

/** A PostgreSQL table as the copy sees it: columns (name order) with their types, primary key. */
interface TableShape {
  name: string
  columns: Array<{ name: string, type: string }>
  key: string
  /** a text key is ordered bytewise on both sides (SQLite's BINARY, PostgreSQL's "C") */
  textKey: boolean
  /** the identity column, if any, whose sequence must move past the copied ids */
  identity: string | undefined
}

const DEFAULT_BATCH = 500
/** Kysely's own tables: PostgreSQL keeps its own migration records, written by migrate() */
const MIGRATION_TABLES = /^kysely_migration/

/**
 * Copies a SQLite database into an empty PostgreSQL database, keeping every id, and verifies it.
 *
 * 1. The SQLite file is copied to a temporary snapshot with VACUUM INTO (consistent, and safe
 *    while the server writes: WAL readers never block writers), and the snapshot is migrated to
 *    the current schema, which the PostgreSQL schema mirrors.
 * 2. A target with any row in any table is refused before anything is written.
 * 3. The target is migrated; then one transaction copies every table in foreign-key order, reads
 *    every table back and compares row counts and checksums with the snapshot, moves each identity
 *    sequence past the copied ids, and commits only when every table matches. A failure anywhere
 *    rolls all the rows back, leaving the target as empty as it was (schema aside).
 *
 * Values are converted by the engines' own boundaries: rows are read from the snapshot through the
 * SQLite engine (booleans as booleans), written as they are (PostgreSQL parses timestamps, dates
 * and JSON into the column's type), and read back through the PostgreSQL engine's type parsers.
 */
export async function copySqliteToPostgres (options: CopyOptions): Promise<CopyReport> {
  const dir = mkdtempSync(join(tmpdir(), 'tempclock-copy-'))
  try {
    const snapshot = join(dir, 'snapshot.db')
    snapshotSqlite(options.from, snapshot)
    const sqlite = openSqlite({ file: snapshot, synchronous: 'OFF' })
    // a plain Kysely on the snapshot, not an engine: its reads run inside the PostgreSQL write, and
    // the statement wrapper is the SQLite engine's own (its row conversion: booleans as booleans)
    const source = new Kysely<any>({ dialect: new SqliteDialect({ database: new StatementCachingDatabase(sqlite) }) })
    try {
      // the snapshot, never the original: an older file is brought to the schema PostgreSQL has
      await migrateSqlite(source)
      const target = openPostgresEngine({
        url: options.to,
        poolSize: 2,
        // one batch or one page is small, but a large table's verification page may take a while
        statementTimeoutMs: 300_000,
        applicationName: 'tempclock copy-to-postgres'
      })
      try {
        return await copyInto(sqlite, source, target, options)
      } finally {
        await target.close()
      }
    } finally {
      await source.destroy()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

function snapshotSqlite (file: string, into: string): void {
  let db: BetterSqlite3.Database
  try {
    db = new BetterSqlite3(file, { readonly: true, fileMustExist: true })
  } catch (err) {
    throw new CopyRefused(`cannot open the SQLite database ${file}: ${(err as Error).message}`)
  }
  try {
    const migrated = db.prepare('select 1 from sqlite_master where type = \'table\' and name = \'kysely_migration\'').get()
    if (migrated === undefined) throw new CopyRefused(`${file} is not a TempClock database (it has no migration records)`)
    // one statement, one read transaction: a consistent snapshot however busy the server is (an
    // online backup restarts whenever another connection writes, and may never finish under load)
    db.prepare('vacuum into ?').run(into)
  } finally {
    db.close()
  }
}

/** The SQLite tables to copy, and the SQLite-only ones left behind (FTS5 index, migration records). */
function sqliteTables (sqlite: BetterSqlite3.Database): { copied: string[], skipped: string[] } {
  const listed = sqlite.prepare('select name, type from pragma_table_list where schema = \'main\' order by name').all() as Array<{ name: string, type: string }>
  const copied: string[] = []
  const skipped: string[] = []
  for (const { name, type } of listed) {
    // sqlite_schema and sqlite_sequence are SQLite's own bookkeeping, not data
    if (name.startsWith('sqlite_')) continue
    if (type === 'table' && !MIGRATION_TABLES.test(name)) copied.push(name)
    else skipped.push(name)
  }
  return { copied, skipped }
}

/** SQLite's AUTOINCREMENT high-water marks: ids of deleted rows are never given out again. */
function sqliteSequences (sqlite: BetterSqlite3.Database): Map<string, number> {
  const exists = sqlite.prepare('select 1 from sqlite_master where name = \'sqlite_sequence\'').get()
  if (exists === undefined) return new Map()
  const rows = sqlite.prepare('select name, seq from sqlite_sequence').all() as Array<{ name: string, seq: number }>
  return new Map(rows.map((r) => [r.name, r.seq]))
}

/** Tables of the target's schema, except Kysely's migration records. */
async function postgresTables (db: Kysely<any>): Promise<string[]> {
  const { rows } = await sql<{ table_name: string }>`select table_name from information_schema.tables
    where table_schema = current_schema() and table_type = 'BASE TABLE' order by table_name`.execute(db)
  return rows.map((r) => r.table_name).filter((name) => !MIGRATION_TABLES.test(name))
}

/** The first of `tables` that has a row, if any. */
async function firstNonEmpty (db: Kysely<any>, tables: readonly string[]): Promise<string | undefined> {
  for (const table of tables) {
    const { rows } = await sql<{ found: boolean }>`select exists (select 1 from ${sql.table(table)}) as found`.execute(db)
    if (rows[0]?.found === true) return table
  }
  return undefined
}

function refuseNonEmpty (table: string | undefined): void {
  if (table === undefined) return
  throw new CopyRefused(`the target database is not empty (table ${table} has rows): copy-to-postgres only writes into an empty database; ` +
    'create a new one (createdb) or point --to at an empty one')
}

async function postgresShapes (db: Kysely<any>, tables: readonly string[]): Promise<Map<string, TableShape>> {
  const columns = await sql<{ table_name: string, column_name: string, data_type: string, is_identity: string }>`
    select table_name, column_name, data_type, is_identity from information_schema.columns
    where table_schema = current_schema() order by table_name, column_name`.execute(db)
  const keys = await sql<{ table_name: string, column_name: string }>`
    select tc.table_name, kcu.column_name from information_schema.table_constraints tc
    join information_schema.key_column_usage kcu
      on kcu.constraint_schema = tc.constraint_schema and kcu.constraint_name = tc.constraint_name and kcu.table_name = tc.table_name
    where tc.table_schema = current_schema() and tc.constraint_type = 'PRIMARY KEY'`.execute(db)
  const shapes = new Map<string, TableShape>()
  for (const table of tables) {
    const own = columns.rows.filter((c) => c.table_name === table)
    const key = keys.rows.filter((k) => k.table_name === table).map((k) => k.column_name)
    // paging and checksums follow one key column; every TempClock table has one
    if (key.length !== 1) throw new CopyRefused(`table ${table} on PostgreSQL has no single-column primary key`)
    const keyColumn = own.find((c) => c.column_name === key[0])!
    shapes.set(table, {
      name: table,
      columns: own.map((c) => ({ name: c.column_name, type: c.data_type })),
      key: key[0]!,
      textKey: keyColumn.data_type === 'text' || keyColumn.data_type === 'character varying',
      identity: own.find((c) => c.is_identity === 'YES')?.column_name
    })
  }
  return shapes
}

/** Tables ordered so that each comes after every table it references (self-references aside). */
async function foreignKeyOrder (db: Kysely<any>, tables: readonly string[]): Promise<string[]> {
  const { rows } = await sql<{ table_name: string, referenced: string }>`
    select cl.relname as table_name, ref.relname as referenced from pg_constraint c
    join pg_class cl on cl.oid = c.conrelid join pg_class ref on ref.oid = c.confrelid
    where c.contype = 'f' and cl.relnamespace = current_schema()::regnamespace`.execute(db)
  const ordered: string[] = []
  const placed = new Set<string>()
  const remaining = [...tables].sort()
  while (remaining.length > 0) {
    const next = remaining.findIndex((table) => rows.every((r) => r.table_name !== table || r.referenced === table || placed.has(r.referenced) || !tables.includes(r.referenced)))
    if (next === -1) throw new CopyRefused(`the foreign keys between ${remaining.join(', ')} form a cycle: no order to copy them in`)
    const [table] = remaining.splice(next, 1)
    ordered.push(table!)
    placed.add(table!)
  }
  return ordered
}

function compareColumns (sqlite: BetterSqlite3.Database, shape: TableShape): void {
  const sourceColumns = (sqlite.prepare('select name from pragma_table_info(?)').all(shape.name) as Array<{ name: string }>).map((c) => c.name).sort()
  const targetColumns = shape.columns.map((c) => c.name)
  const missing = sourceColumns.filter((c) => !targetColumns.includes(c))
  const extra = targetColumns.filter((c) => !sourceColumns.includes(c))
  if (missing.length > 0 || extra.length > 0) {
    throw new CopyRefused(`table ${shape.name} differs between the engines' schemas (${[
      ...missing.map((c) => `${c} only on SQLite`), ...extra.map((c) => `${c} only on PostgreSQL`)].join(', ')}): ` +
      'is this program older than the database?')
  }
}

/** One page of a table in key order, after `after` (the last key of the previous page). */
async function page (db: Kysely<any>, shape: TableShape, dialect: 'sqlite' | 'postgres', after: unknown, limit: number): Promise<Array<Record<string, unknown>>> {
  // bytewise on both sides, so that both engines list a text-keyed table in the same order
  const key = dialect === 'postgres' && shape.textKey ? sql`${sql.ref(shape.key)} collate "C"` : sql.ref(shape.key)
  let query = db.selectFrom(shape.name).select(shape.columns.map((c) => c.name)).orderBy(key).limit(limit)
  if (after !== undefined) query = query.where(sql<boolean>`${key} > ${after}`)
  return await query.execute() as Array<Record<string, unknown>>
}

async function * pages (db: Kysely<any>, shape: TableShape, dialect: 'sqlite' | 'postgres', limit: number): AsyncGenerator<Array<Record<string, unknown>>> {
  let after: unknown
  for (;;) {
    const rows = await page(db, shape, dialect, after, limit)
    if (rows.length > 0) yield rows
    if (rows.length < limit) return
    after = rows[rows.length - 1]![shape.key]
  }
}

/** A value as PostgreSQL takes it for a column of `type`: what the SQLite engine did not convert. */
function toTarget (value: unknown, type: string): unknown {
  if (type === 'boolean' && typeof value === 'number') return value !== 0
  return value
}

/** JSON with object keys sorted: jsonb keeps neither the text's spacing nor its key order. */
function canonicalJson (value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonicalJson)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonicalJson((value as Record<string, unknown>)[k])]))
  }
  return value
}

/**
 * A row value as both sides compare it, by the PostgreSQL column's type: a boolean left as 0/1
 * counts as the boolean, a json/jsonb column counts by its meaning (jsonb reformats the text),
 * everything else as the engines give it (text columns, JSON kept as text included, byte for byte).
 */
export function normaliseValue (value: unknown, type: string): unknown {
  if (value === null || value === undefined) return null
  if (type === 'boolean' && typeof value === 'number') return value !== 0
  if ((type === 'json' || type === 'jsonb') && typeof value === 'string') {
    try {
      return JSON.stringify(canonicalJson(JSON.parse(value)))
    } catch {
      return value
    }
  }
  if (typeof value === 'bigint') return value.toString()
  return value
}

/** sha256 over a table's rows (in key order), each row its values by column name, normalised. */
export class TableChecksum {
  readonly #hash = createHash('sha256')
  readonly #columns: ReadonlyArray<{ name: string, type: string }>
  rows = 0

  constructor (columns: ReadonlyArray<{ name: string, type: string }>) {
    this.#columns = [...columns].sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  }

  add (row: Record<string, unknown>): void {
    this.#hash.update(JSON.stringify(this.#columns.map((c) => normaliseValue(row[c.name], c.type))) + '\n')
    this.rows++
  }

  digest (): string {
    return this.#hash.digest('hex')
  }
}

async function checksum (db: Kysely<any>, shape: TableShape, dialect: 'sqlite' | 'postgres', limit: number): Promise<{ rows: number, sha256: string }> {
  const sum = new TableChecksum(shape.columns)
  for await (const rows of pages(db, shape, dialect, limit)) for (const row of rows) sum.add(row)
  return { rows: sum.rows, sha256: sum.digest() }
}

async function copyInto (sqlite: BetterSqlite3.Database, sourceDb: Kysely<any>, target: PostgresEngine, options: CopyOptions): Promise<CopyReport> {
  const limit = options.batchSize ?? DEFAULT_BATCH
  const { copied, skipped } = sqliteTables(sqlite)
  const highWater = sqliteSequences(sqlite)
  const targetDb = target.db as unknown as Kysely<any>

  // before migrating, so that a refused target is left exactly as it was
  refuseNonEmpty(await firstNonEmpty(targetDb, await postgresTables(targetDb)))
  await target.migrate()

  const tables = await postgresTables(targetDb)
  const onlySqlite = copied.filter((t) => !tables.includes(t))
  const onlyPostgres = tables.filter((t) => !copied.includes(t))
  if (onlySqlite.length > 0 || onlyPostgres.length > 0) {
    throw new CopyRefused(`the engines' schemas differ (${[...onlySqlite.map((t) => `${t} only on SQLite`), ...onlyPostgres.map((t) => `${t} only on PostgreSQL`)].join(', ')})`)
  }
  const shapes = await postgresShapes(targetDb, tables)
  for (const shape of shapes.values()) compareColumns(sqlite, shape)
  const order = await foreignKeyOrder(targetDb, tables)

  const report = await target.write(async (write) => {
    const trx = write as unknown as Kysely<any>
    // another writer (a server already started on the target) waits until the copy commits; a
    // lock held elsewhere fails the copy instead of stalling it
    await sql`set local lock_timeout = '10s'`.execute(trx)
    await sql`lock table ${sql.join(order.map((t) => sql.table(t)))} in exclusive mode`.execute(trx)
    // again under the lock: something may have written since the first look
    refuseNonEmpty(await firstNonEmpty(trx, order))

    for (const table of order) {
      const shape = shapes.get(table)!
      for await (const rows of pages(sourceDb, shape, 'sqlite', limit)) {
        const values = rows.map((row) => Object.fromEntries(shape.columns.map((c) => [c.name, toTarget(row[c.name], c.type)])))
        await trx.insertInto(table).values(values).execute()
      }
    }

    await options.beforeVerify?.(trx)

    const tablesCopied: TableCopy[] = []
    for (const table of order) {
      const shape = shapes.get(table)!
      const expected = await checksum(sourceDb, shape, 'sqlite', limit)
      const found = await checksum(trx, shape, 'postgres', limit)
      tablesCopied.push({
        table,
        ...expected,
        ...(found.rows !== expected.rows || found.sha256 !== expected.sha256 ? { target: found } : {})
      })
    }
    const differing = tablesCopied.filter((t) => t.target !== undefined)
    if (differing.length > 0) {
      throw new CopyVerificationFailed(`verification failed, nothing was committed: ${differing.map((t) =>
        `${t.table} has ${t.rows} rows (sha256 ${t.sha256.slice(0, 12)}) on SQLite and ${t.target!.rows} (sha256 ${t.target!.sha256.slice(0, 12)}) on PostgreSQL`).join('; ')}`, tablesCopied)
    }

    // last, after verification: setval is not undone by a rollback
    await syncIdSequences(trx)
    for (const shape of shapes.values()) {
      const seq = highWater.get(shape.name)
      if (shape.identity === undefined || seq === undefined) continue
      // past SQLite's high-water mark too: an id a deleted row had is never given out again
      await sql`select setval(pg_get_serial_sequence(${shape.name}, ${shape.identity}),
        greatest(${seq} + 1, coalesce((select max(${sql.ref(shape.identity)}) from ${sql.table(shape.name)}), 0) + 1), false)`.execute(trx)
    }
    return tablesCopied
  })
  return { tables: report, skipped }
}
