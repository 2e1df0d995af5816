import { nowIso } from '../domain/time.js'
import { DUMMY_PASSWORD_HASH, hashPassword, passwordProblem, verifyPassword } from '../domain/passwords.js'
import { findAccount } from './accounts.js'
import type { Engine } from './engine/engine.js'
import type { PortalUserRow } from './types.js'

/** What the operator sees of a portal user: never the password hash. */
export interface PortalUserRecord {
  id: number
  account_id: number
  email: string
  status: 'active' | 'disabled'
  disabled_at: string | null
  last_login_at: string | null
  created_at: string
  updated_at: string
}

export const EMAIL_MAX_LENGTH = 254
// deliberately plain: one @, no spaces, a dot in the domain; the operator types these by hand
const EMAIL = /^[^\s@<>"]+@[^\s@<>"]+\.[^\s@<>".]+$/

/** Trimmed and lower-cased: the form every email is stored and looked up in. */
export function normalizeEmail (email: string): string {
  return email.trim().toLowerCase()
}

export function isEmail (email: string): boolean {
  return email.length <= EMAIL_MAX_LENGTH && EMAIL.test(email)
}

export function toPortalUserRecord (row: PortalUserRow): PortalUserRecord {
  return {
    id: row.id,
    account_id: row.account_id,
    email: row.email,
    status: row.disabled_at === null ? 'active' : 'disabled',
    disabled_at: row.disabled_at,
    last_login_at: row.last_login_at,
    created_at: row.created_at,
    updated_at: row.updated_at
  }
}

export async function findPortalUserByEmail (engine: Engine, email: string): Promise<PortalUserRow | undefined> {
  return await engine.db.selectFrom('portal_users').selectAll().where('email', '=', normalizeEmail(email)).executeTakeFirst()
}

/** Creates an account admin. Throws a one-line Error for an unknown account, a bad or taken email, a weak password. */
export async function createPortalUser (
  engine: Engine,
  input: { accountId: number, email: string, password: string }
): Promise<PortalUserRecord> {
  const email = normalizeEmail(input.email)
  if (!isEmail(email)) throw new Error(`not a valid email address: ${JSON.stringify(input.email)}`)
  const problem = passwordProblem(input.password)
  if (problem !== null) throw new Error(problem)
  if (await findAccount(engine, input.accountId) === undefined) throw new Error(`no account with id ${input.accountId}`)
  if (await findPortalUserByEmail(engine, email) !== undefined) throw new Error(`a portal user with email ${email} already exists`)
  const passwordHash = await hashPassword(input.password)
  const now = nowIso()
  try {
    const row = await engine.write(async (trx) => await trx.insertInto('portal_users').values({
      account_id: input.accountId,
      email,
      password_hash: passwordHash,
      disabled_at: null,
      last_login_at: null,
      created_at: now,
      updated_at: now
    }).returningAll().executeTakeFirstOrThrow())
    return toPortalUserRecord(row)
  } catch (err) {
    // another process created the same email between the check and the insert
    if (engine.sql.isUniqueViolation(err, 'portal_users.email')) throw new Error(`a portal user with email ${email} already exists`)
    throw err
  }
}

export async function listPortalUsers (engine: Engine, accountId?: number): Promise<PortalUserRecord[]> {
  let query = engine.db.selectFrom('portal_users').selectAll().orderBy('id')
  if (accountId !== undefined) query = query.where('account_id', '=', accountId)
  return (await query.execute()).map(toPortalUserRecord)
}

/**
 * Disables a user and ends all their sessions in one transaction; returns the user, or undefined
 * if there is none. Disabling twice keeps the first time.
 */
export async function disablePortalUser (engine: Engine, id: number): Promise<PortalUserRecord | undefined> {
  return await engine.write(async (trx) => {
    const now = nowIso()
    await trx.updateTable('portal_users').set({ disabled_at: now, updated_at: now })
      .where('id', '=', id).where('disabled_at', 'is', null).execute()
    await trx.deleteFrom('portal_sessions').where('user_id', '=', id).execute()
    const row = await trx.selectFrom('portal_users').selectAll().where('id', '=', id).executeTakeFirst()
    return row === undefined ? undefined : toPortalUserRecord(row)
  })
}

/**
 * Checks an email and password. An unknown email is checked against a dummy hash, and a disabled
 * user's password is still verified, so every failure costs one scrypt and looks the same.
 */
export async function authenticatePortalUser (engine: Engine, email: string, password: string): Promise<PortalUserRow | null> {
  const user = isEmail(normalizeEmail(email)) ? await findPortalUserByEmail(engine, email) : undefined
  const ok = await verifyPassword(password, user?.password_hash ?? DUMMY_PASSWORD_HASH)
  if (!ok || user === undefined || user.disabled_at !== null) return null
  return user
}

export async function recordPortalLogin (engine: Engine, userId: number): Promise<void> {
  await engine.write(async (trx) => await trx.updateTable('portal_users').set({ last_login_at: nowIso() }).where('id', '=', userId).execute())
}
