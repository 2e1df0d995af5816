import { nowIso } from '../domain/time.js'
import type { Kysely } from 'kysely'
import type { Engine } from './engine/engine.js'
import type { AccountRow, Database } from './types.js'

export interface AccountRecord {
  id: number
  name: string
  timezone: string
  api_enabled: boolean
  created_at: string
  updated_at: string
}

export function toAccountRecord (row: AccountRow): AccountRecord {
  return { ...row }
}

/** An IANA zone name that this Node.js knows, e.g. "Europe/London". */
export function isTimezone (zone: string): boolean {
  try {
    // eslint-disable-next-line no-new
    new Intl.DateTimeFormat('en', { timeZone: zone })
    return zone.length > 0
  } catch {
    return false
  }
}

export interface AccountInput { name: string, timezone?: string, apiEnabled?: boolean }

export async function createAccount (engine: Engine, input: AccountInput): Promise<AccountRecord> {
  return await engine.write(async (trx) => await createAccountIn(trx, input))
}

/** The create, inside a transaction the caller owns (the demo seeds a whole account in one). */
export async function createAccountIn (trx: Kysely<Database>, input: AccountInput): Promise<AccountRecord> {
  const name = input.name.trim()
  if (name === '') throw new Error('account name must not be empty')
  const timezone = input.timezone ?? 'UTC'
  if (!isTimezone(timezone)) throw new Error(`unknown timezone ${JSON.stringify(timezone)} (use an IANA name such as Europe/London)`)
  const now = nowIso()
  const row = await trx.insertInto('accounts')
    .values({ name, timezone, api_enabled: input.apiEnabled === true, created_at: now, updated_at: now })
    .returningAll()
    .executeTakeFirstOrThrow()
  return toAccountRecord(row)
}

export async function listAccounts (engine: Engine): Promise<AccountRecord[]> {
  const rows = await engine.db.selectFrom('accounts').selectAll().orderBy('id').execute()
  return rows.map(toAccountRecord)
}

export async function findAccount (engine: Engine, id: number): Promise<AccountRecord | undefined> {
  const row = await engine.db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst()
  return row === undefined ? undefined : toAccountRecord(row)
}

/** Switches API access on or off; returns the account, or undefined if there is none. */
export async function setApiEnabled (engine: Engine, id: number, enabled: boolean): Promise<AccountRecord | undefined> {
  const row = await engine.write(async (trx) => await trx.updateTable('accounts')
    .set({ api_enabled: enabled, updated_at: nowIso() })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst())
  return row === undefined ? undefined : toAccountRecord(row)
}
