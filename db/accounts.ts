import type { Kysely } from 'kysely'
import { nowIso } from '../domain/time.js'
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
  return { ...row, api_enabled: row.api_enabled === 1 }
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

export async function createAccount (
  db: Kysely<Database>,
  input: { name: string, timezone?: string, apiEnabled?: boolean }
): Promise<AccountRecord> {
  const name = input.name.trim()
  if (name === '') throw new Error('account name must not be empty')
  const timezone = input.timezone ?? 'UTC'
  if (!isTimezone(timezone)) throw new Error(`unknown timezone ${JSON.stringify(timezone)} (use an IANA name such as Europe/London)`)
  const now = nowIso()
  const row = await db.insertInto('accounts')
    .values({ name, timezone, api_enabled: input.apiEnabled === true ? 1 : 0, created_at: now, updated_at: now })
    .returningAll()
    .executeTakeFirstOrThrow()
  return toAccountRecord(row)
}

export async function listAccounts (db: Kysely<Database>): Promise<AccountRecord[]> {
  const rows = await db.selectFrom('accounts').selectAll().orderBy('id').execute()
  return rows.map(toAccountRecord)
}

export async function findAccount (db: Kysely<Database>, id: number): Promise<AccountRecord | undefined> {
  const row = await db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst()
  return row === undefined ? undefined : toAccountRecord(row)
}

/** Switches API access on or off; returns the account, or undefined if there is none. */
export async function setApiEnabled (db: Kysely<Database>, id: number, enabled: boolean): Promise<AccountRecord | undefined> {
  const row = await db.updateTable('accounts')
    .set({ api_enabled: enabled ? 1 : 0, updated_at: nowIso() })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst()
  return row === undefined ? undefined : toAccountRecord(row)
}
