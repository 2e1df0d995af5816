import { sql, type Kysely, type RawBuilder, type SqlBool } from 'kysely'
import type { Database } from '../../types.js'
import type { DialectSql } from '../engine.js'
import { isUniqueViolation } from './errors.js'

/**
 * SQLite's LIKE folds the case of ASCII letters only; PostgreSQL's ILIKE and lower() follow the
 * database's locale. Folding with translate() over the 26 letters gives exactly SQLite's answers,
 * and the search indexes (db/migrations/postgres/) are built on this same expression: it must stay
 * textually identical for the planner to use them.
 */
function asciiFolded (column: string): RawBuilder<string> {
  return sql<string>`translate(${sql.ref(column)}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')`
}

function asciiLower (text: string): string {
  return text.replace(/[A-Z]/g, (c) => c.toLowerCase())
}

/** `%term%` for LIKE with its wildcards and the escape character escaped, so "50%" matches "50%". */
function containsPattern (term: string): string {
  return '%' + asciiLower(term).replace(/[\\%_]/g, (c) => '\\' + c) + '%'
}

function containsText (column: string, term: string): RawBuilder<SqlBool> {
  return sql<SqlBool>`${asciiFolded(column)} like ${containsPattern(term)} escape '\\'`
}

export const postgresSql: DialectSql = {
  isUniqueViolation,

  containsText,

  // each arm can use the table's trigram index (one GIN index over the searched expressions)
  matchesSearch: (table, columns, term) =>
    sql<SqlBool>`(${sql.join(columns.map((column) => containsText(`${table}.${column}`, term)), sql` or `)})`,

  jsonArrayContains: (column, value) =>
    sql<SqlBool>`${sql.ref(column)} @> ${JSON.stringify([value])}::jsonb`,

  claimable: (query, of) => (of === undefined ? query.forUpdate() : query.forUpdate(of as never)).skipLocked(),

  lockedForWrite: (query, of) => of === undefined ? query.forNoKeyUpdate() : query.forNoKeyUpdate(of as never),

  lockKey: async (trx: Kysely<Database>, key: string) => {
    // outside a transaction the lock would be released as soon as it is taken
    if (!trx.isTransaction) throw new Error('lockKey needs the trx of a write: the lock lasts until that transaction ends')
    // 64-bit hash of the key: a collision only serialises two unrelated keys, never breaks anything
    await sql`select pg_advisory_xact_lock(hashtextextended(${key}, 0))`.execute(trx)
  }
}
