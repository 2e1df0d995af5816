import { sql, type Kysely } from 'kysely'

// Frozen: a migration that has shipped is never edited; add a new dated file instead.
// Full access becomes a flag of its own: a scope list that is empty, unreadable or names an
// unknown scope then grants nothing. Keys issued with no scopes meant full access, so they keep it.

export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('api_keys')
    .addColumn('full_access', 'integer', (c) => c.notNull().defaultTo(0))
    .execute()
  await db.updateTable('api_keys')
    .set({ full_access: 1 })
    .where(sql<boolean>`json_valid(scopes) and json_type(scopes) = 'array' and json_array_length(scopes) = 0`)
    .execute()
}

export async function down (db: Kysely<any>): Promise<void> {
  // The old schema read an empty or unknown list as full access: a key without full access and
  // without one known scope is revoked rather than handed everything.
  const known = sql.join(KNOWN_SCOPES.map((s) => sql.lit(s)))
  await db.updateTable('api_keys')
    .set({ revoked_at: sql`coalesce(revoked_at, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))` })
    .where('full_access', '=', 0)
    .where(sql<boolean>`not (case when json_valid(scopes) and json_type(scopes) = 'array'
      then exists (select 1 from json_each(scopes) where value in (${known})) else 0 end)`)
    .execute()
  await db.schema.alterTable('api_keys').dropColumn('full_access').execute()
}

// the scopes as they were when this migration was written
const KNOWN_SCOPES = ['workers:read', 'timesheets:read', 'locations:read', 'clock:write', 'shifts:read',
  'shifts:write', 'departments:read', 'cost-codes:read', 'webhooks:write']
