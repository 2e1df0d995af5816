import { sql, type Kysely } from 'kysely'

// Frozen: a migration that has shipped is never edited; add a new dated file instead.
// Fair delivery (README "Webhooks"): the loop looks at the oldest due deliveries of each
// subscription, one index seek each, however long another subscription's backlog is.
// Pruning: finished deliveries and dispatched events are deleted after the retention, in small
// batches; the partial indexes find the oldest without scanning the tables (pending deliveries
// and undispatched events are never pruned).

export async function up (db: Kysely<any>): Promise<void> {
  await sql`create index webhook_deliveries_subscription_due on webhook_deliveries (subscription_id, next_attempt_ms) where status = 'pending'`.execute(db)
  await sql`create index webhook_deliveries_finished on webhook_deliveries (updated_at) where status != 'pending'`.execute(db)
  await sql`create index events_dispatched_created on events (created_at) where dispatched_at is not null`.execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await sql`drop index events_dispatched_created`.execute(db)
  await sql`drop index webhook_deliveries_finished`.execute(db)
  await sql`drop index webhook_deliveries_subscription_due`.execute(db)
}
