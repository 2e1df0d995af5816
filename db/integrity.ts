import type { Kysely } from 'kysely'
import { notFound } from '../domain/errors.js'
import type { Database } from './types.js'

/** The account-owned tables a record may point at, with the name an error message uses. */
const REFERENCED = {
  locations: 'Location',
  departments: 'Department',
  cost_codes: 'Cost code',
  workers: 'Worker'
} as const
export type ReferencedTable = keyof typeof REFERENCED

/**
 * Throws 404 "<Thing> N not found" unless row `id` of `table` belongs to `accountId`: a record
 * never links to another account's row, and another account's id answers like a missing one.
 * Pass the transaction that makes the write, so the check and the write see the same data.
 */
export async function requireOwned (db: Kysely<Database>, table: ReferencedTable, accountId: number, id: number): Promise<void> {
  const found = await db.selectFrom(table).select('id')
    .where('id', '=', id).where('account_id', '=', accountId)
    .executeTakeFirst()
  if (found === undefined) throw notFound(`${REFERENCED[table]} ${id}`)
}

/**
 * Whether `err` is SQLite's UNIQUE-constraint failure on `table.column` (better-sqlite3 reports
 * "UNIQUE constraint failed: workers.account_id, workers.employee_ref"). A pre-check gives the
 * friendly 409; this catches the race where another writer (the CLI, another process) got there
 * between the check and the insert, so that case is a 409 too and never a 500.
 */
export function isUniqueViolation (err: unknown, table: string, column: string): boolean {
  if (typeof err !== 'object' || err === null) return false
  const { code, message } = err as { code?: unknown, message?: unknown }
  return code === 'SQLITE_CONSTRAINT_UNIQUE' && typeof message === 'string' && message.includes(`${table}.${column}`)
}
