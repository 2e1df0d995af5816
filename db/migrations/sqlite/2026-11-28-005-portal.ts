import { sql, type Kysely } from 'kysely'

// Frozen: a migration that has shipped is never edited; add a new dated file instead.
// The manage portal (docs/operations.md "Manage portal"): account admin users and their server-side sessions.

export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.createTable('portal_users')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
    // stored lower-cased; NOCASE keeps lookups and the unique index case-insensitive regardless
    .addColumn('email', 'text', (c) => c.notNull().modifyEnd(sql`collate nocase`))
    // PHC-style "$scrypt$ln=15,r=8,p=3$<salt>$<hash>": the parameters travel with the hash
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('disabled_at', 'text')
    .addColumn('last_login_at', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('portal_users_email').unique().on('portal_users').column('email').execute()
  await db.schema.createIndex('portal_users_account').on('portal_users').columns(['account_id', 'id']).execute()

  await db.schema.createTable('portal_sessions')
    // hex SHA-256 of the opaque cookie token: the token itself is never stored
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('portal_users.id').onDelete('cascade'))
    // the session's CSRF token, embedded in its forms and compared in constant time
    .addColumn('csrf_token', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('portal_sessions_user').on('portal_sessions').column('user_id').execute()
  await db.schema.createIndex('portal_sessions_expires').on('portal_sessions').column('expires_at').execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('portal_sessions').execute()
  await db.schema.dropTable('portal_users').execute()
}
