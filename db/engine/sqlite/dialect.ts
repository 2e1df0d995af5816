import { sql, type RawBuilder, type SqlBool } from 'kysely'
import type { DialectSql } from '../engine.js'

/** Trigram indexes match terms of at least this many characters (code points). */
export const INDEXED_TERM_LENGTH = 3

/** `column LIKE %term%` (ASCII case-insensitive in SQLite) with LIKE's wildcards escaped, so "50%" matches "50%". */
function containsText (column: string, term: string): RawBuilder<SqlBool> {
  const pattern = '%' + term.replace(/[\\%_]/g, (c) => '\\' + c) + '%'
  return sql<SqlBool>`${sql.ref(column)} like ${pattern} escape '\\'`
}

/**
 * The `search` filter (README.md, "Lists"): `term` is an ASCII-case-insensitive substring of one of
 * `columns`, `%` and `_` literal. A term of three characters or more is looked up in the table's
 * FTS5 trigram index `<table>_search` (db/migrations/sqlite/2026-12-07-040-search-index.ts), which
 * folds case at least as widely as LIKE does and so returns every match and perhaps a few more;
 * the LIKE check on those rows alone keeps the answer exactly what it was without the index. A
 * shorter term has no trigram to look up and is the LIKE check over the account's rows.
 */
function matchesSearch (table: string, columns: readonly string[], term: string): RawBuilder<SqlBool> {
  const likes = sql.join(columns.map((column) => containsText(`${table}.${column}`, term)), sql` or `)
  if ([...term].length < INDEXED_TERM_LENGTH) return sql<SqlBool>`(${likes})`
  const index = sql.table(`${table}_search`)
  // one phrase: FTS5's own syntax stays inert inside double quotes, with " doubled
  const phrase = '"' + term.replaceAll('"', '""') + '"'
  return sql<SqlBool>`${sql.ref(`${table}.id`)} in (select rowid from ${index} where ${index} match ${phrase}) and (${likes})`
}

/**
 * Whether `err` is SQLite's UNIQUE-constraint failure, on `column` ("table.column") when given:
 * better-sqlite3 reports "UNIQUE constraint failed: workers.account_id, workers.employee_ref".
 */
function isUniqueViolation (err: unknown, column?: `${string}.${string}`): boolean {
  if (typeof err !== 'object' || err === null) return false
  const { code, message } = err as { code?: unknown, message?: unknown }
  if (code !== 'SQLITE_CONSTRAINT_UNIQUE') return false
  return column === undefined || (typeof message === 'string' && message.includes(column))
}

export const sqliteDialectSql: DialectSql = {
  isUniqueViolation,
  containsText,
  matchesSearch,
  jsonArrayContains: (column, value) =>
    sql<SqlBool>`exists (select 1 from json_each(${sql.ref(column)}) where value = ${value})`,
  // one writer, and every write transaction is BEGIN IMMEDIATE: already serial across processes
  claimable: (query) => query,
  lockedForWrite: (query) => query,
  lockKey: async () => {}
}
