import { Migrator, type Kysely, type MigrationResultSet } from 'kysely'
import { migrations } from '../../migrations/sqlite/index.js'
import type { Database } from '../../types.js'

export function createSqliteMigrator (db: Kysely<Database>): Migrator {
  return new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    // parallel branches add dated migrations; one that lands later with an earlier name still runs
    allowUnorderedMigrations: true
  })
}

/** Brings the schema up to date; throws with the failing migration's error. Returns the names applied. */
export async function migrateSqlite (db: Kysely<Database>): Promise<string[]> {
  const result: MigrationResultSet = await createSqliteMigrator(db).migrateToLatest()
  if (result.error !== undefined) {
    const failed = result.results?.find((r) => r.status === 'Error')
    const reason = result.error instanceof Error ? result.error.message : String(result.error)
    throw new Error(`migration ${failed?.migrationName ?? '(unknown)'} failed: ${reason}`)
  }
  return (result.results ?? []).map((r) => r.migrationName)
}
