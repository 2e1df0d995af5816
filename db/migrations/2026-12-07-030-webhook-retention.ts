import { sql, type Kysely } from 'kysely'

// Frozen: a migration that has shipped is never edited; add a new dated file instead.
// Pruning (README "Webhooks"): finished deliveries and dispatched events are deleted after the
// retention, in small batches. These partial indexes let each batch find its oldest rows without
// scanning the tables (pending deliveries and undispatched events are never pruned).

export async function up (db: Kysely<any>): Promise<void> {
  await sql`create index webhook_deliveries_finished on webhook_deliveries (updated_at) where status != 'pending'`.execute(db)
  await sql`create index events_dispatched_created on events (created_at) where dispatched_at is not null`.execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await sql`drop index events_dispatched_created`.execute(db)
  await sql`drop index webhook_deliveries_finished`.execute(db)
}
