import { sql, type Kysely } from 'kysely'

// Frozen: a migration that has shipped is never edited; add a new dated file instead.
// Worker documents (right to work, licences, certificates) with an optional expiry, and the
// record of which expiry date the `document_expired` event was sent for.

export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.createTable('documents')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
    .addColumn('worker_id', 'integer', (c) => c.notNull().references('workers.id'))
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('reference', 'text')
    .addColumn('issued_on', 'text')
    .addColumn('expires_on', 'text')
    .addColumn('notes', 'text')
    /**
     * the expiry date the document_expired event was last sent for, set in the transaction that
     * writes the event: what makes it fire once per date across restarts and processes
     */
    .addColumn('expired_notified_on', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addCheckConstraint('documents_dates', sql`issued_on is null or expires_on is null or expires_on >= issued_on`)
    .execute()
  await db.schema.createIndex('documents_account').on('documents').columns(['account_id', 'id']).execute()
  await db.schema.createIndex('documents_account_worker').on('documents').columns(['account_id', 'worker_id', 'id']).execute()
  await db.schema.createIndex('documents_account_expires').on('documents').columns(['account_id', 'expires_on']).execute()
  await db.schema.createIndex('documents_account_updated').on('documents').columns(['account_id', 'updated_at']).execute()
  // the expiry scan: only documents whose current expiry has not been announced yet
  await sql`create index documents_expiry_unannounced on documents (expires_on, id)
    where expires_on is not null and (expired_notified_on is null or expires_on > expired_notified_on)`.execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('documents').execute()
}
