import { sql, type Kysely } from 'kysely'

// Frozen: a migration that has shipped is never edited; add a new dated file instead.
// Webhook subscriptions and their deliveries (docs/webhooks.md). The dispatcher fans each
// outbox event out to one delivery row per matching subscription; the UNIQUE (event_id,
// subscription_id) makes that fan-out idempotent, so a crash mid-way can neither lose nor
// duplicate a delivery.

export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.createTable('webhook_subscriptions')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
    .addColumn('url', 'text', (c) => c.notNull())
    /** JSON array of event names, or ["*"] */
    .addColumn('events', 'text', (c) => c.notNull())
    .addColumn('active', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('description', 'text')
    /** the HMAC key: must be usable as-is, so it is stored (not hashed); shown once at creation */
    .addColumn('secret', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    /** soft delete: the subscription's delivery history stays readable to the dispatcher */
    .addColumn('deleted_at', 'text')
    .execute()
  await sql`create index webhook_subscriptions_account on webhook_subscriptions (account_id, id) where deleted_at is null`.execute(db)

  await db.schema.createTable('webhook_deliveries')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('event_id', 'integer', (c) => c.notNull().references('events.id'))
    .addColumn('subscription_id', 'integer', (c) => c.notNull().references('webhook_subscriptions.id'))
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('pending'))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    /** epoch ms of the next attempt (also the lease while an attempt is in flight) */
    .addColumn('next_attempt_ms', 'integer', (c) => c.notNull())
    /** epoch ms after which a failed attempt is final (creation + the retry window) */
    .addColumn('give_up_ms', 'integer', (c) => c.notNull())
    .addColumn('last_response_code', 'integer')
    .addColumn('last_error', 'text')
    .addColumn('last_attempt_at', 'text')
    .addColumn('delivered_at', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addCheckConstraint('webhook_deliveries_status', sql`status in ('pending', 'delivered', 'failed')`)
    .execute()
  await db.schema.createIndex('webhook_deliveries_event_subscription').unique()
    .on('webhook_deliveries').columns(['event_id', 'subscription_id']).execute()
  // the due scan: only pending rows, in due order
  await sql`create index webhook_deliveries_due on webhook_deliveries (next_attempt_ms) where status = 'pending'`.execute(db)
  await db.schema.createIndex('webhook_deliveries_subscription').on('webhook_deliveries').columns(['subscription_id', 'id']).execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('webhook_deliveries').execute()
  await db.schema.dropTable('webhook_subscriptions').execute()
}
