import { sql, type Kysely } from 'kysely'

// Frozen: a migration that has shipped is never edited; add a new dated file instead.
// SQLite's portal_users.email is COLLATE NOCASE, so its unique index refuses an address that
// differs from another only in the case of ASCII letters, even for a row written around the
// store. The same index here folds the same 26 letters (not lower(), which also folds other
// letters by locale and could refuse rows that SQLite holds as distinct).
const FOLDED = sql`translate(email, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')`

export async function up (db: Kysely<any>): Promise<void> {
  await sql`drop index portal_users_email`.execute(db)
  await sql`create unique index portal_users_email on portal_users (${FOLDED})`.execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await sql`drop index portal_users_email`.execute(db)
  await sql`create unique index portal_users_email on portal_users (email)`.execute(db)
}
