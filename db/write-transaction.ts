import { sql, type CompiledQuery, type Compilable, type Kysely } from 'kysely'
import type { Database } from './types.js'

/**
 * Runs `fn` in a `BEGIN IMMEDIATE` transaction on one connection. A deferred BEGIN (what
 * Kysely's `transaction()` sends) that reads and then writes fails at once with SQLITE_BUSY when
 * another process wrote in between; IMMEDIATE takes the write lock first, so a second process
 * simply waits (busy_timeout) and then reads what the first one committed.
 * Inside `fn`, use only the `trx` it is given: the app has one connection, and `db` would wait
 * for it forever.
 */
export async function writeTransaction<T> (db: Kysely<Database>, fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
  return await db.connection().execute(async (trx) => {
    await sql`begin immediate`.execute(trx)
    let result: T
    try {
      result = await fn(trx)
    } catch (err) {
      await sql`rollback`.execute(trx)
      throw err
    }
    await sql`commit`.execute(trx)
    return result
  })
}

/** A query compiled once, run on any executor (a transaction's or the pool's) with new parameters. */
export interface Compiled<Row> {
  all (on: Kysely<Database>, ...parameters: unknown[]): Promise<Row[]>
  first (on: Kysely<Database>, ...parameters: unknown[]): Promise<Row | undefined>
}

export function compileOnce<Row> (query: Compilable<Row>): Compiled<Row> {
  const compiled: CompiledQuery<Row> = query.compile()
  const arity = compiled.parameters.length
  const all = async (on: Kysely<Database>, ...parameters: unknown[]): Promise<Row[]> => {
    if (parameters.length !== arity) throw new Error(`compiled query takes ${arity} parameters, got ${parameters.length}`)
    return (await on.executeQuery<Row>({ ...compiled, parameters })).rows
  }
  return { all, first: async (on, ...parameters) => (await all(on, ...parameters))[0] }
}

/** better-sqlite3's error for a UNIQUE violation (the partial "one open entry" index among them). */
export function isUniqueViolation (err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'SQLITE_CONSTRAINT_UNIQUE'
}
