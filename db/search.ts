import { sql, type RawBuilder, type SqlBool } from 'kysely'
import { containsText } from './paging.js'

/** Trigram indexes match terms of at least this many characters (code points). */
export const INDEXED_TERM_LENGTH = 3

/**
 * The `search` filter (README.md, "Lists"): `term` is an ASCII-case-insensitive substring of one of
 * `columns`, `%` and `_` literal. A term of three characters or more is looked up in the table's
 * trigram index (db/migrations/2026-12-07-040-search-index.ts), which folds case at least as widely
 * as LIKE does and so returns every match and perhaps a few more; the LIKE check on those rows
 * alone keeps the answer exactly what it was without the index. A shorter term has no trigram to
 * look up and is the LIKE check over the account's rows.
 */
export function matchesSearch (table: string, index: string, columns: readonly string[], term: string): RawBuilder<SqlBool> {
  const likes = sql.join(columns.map((column) => containsText(`${table}.${column}`, term)), sql` or `)
  if ([...term].length < INDEXED_TERM_LENGTH) return sql<SqlBool>`(${likes})`
  // one phrase: FTS5's own syntax stays inert inside double quotes, with " doubled
  const phrase = '"' + term.replaceAll('"', '""') + '"'
  return sql<SqlBool>`${sql.ref(`${table}.id`)} in (select rowid from ${sql.table(index)} where ${sql.table(index)} match ${phrase}) and (${likes})`
}
