import type { Migration } from 'kysely'
import * as postgresSchema from './2026-12-07-100-postgres-schema.js'
import * as portalEmailNocase from './2026-12-07-110-portal-email-nocase.js'

// Every PostgreSQL migration, by its dated name, run in name order by Kysely's Migrator. The
// first one is the whole schema (the SQLite history before it has no PostgreSQL deployments to
// upgrade); a later change is a new dated file here and one beside it for SQLite.
export const postgresMigrations: Record<string, Migration> = {
  '2026-12-07-100-postgres-schema': postgresSchema,
  '2026-12-07-110-portal-email-nocase': portalEmailNocase
}
