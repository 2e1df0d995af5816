import fp from 'fastify-plugin'
import type { Kysely } from 'kysely'
import type BetterSqlite3 from 'better-sqlite3'
import { openDatabase } from '../db/connection.js'
import { migrateToLatest } from '../db/migrate.js'
import type { Database } from '../db/types.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Kysely over the app's SQLite file: all data goes through it */
    db: Kysely<Database>
    /** the raw connection, for readiness checks and pragmas only */
    sqlite: BetterSqlite3.Database
  }
}

export default fp(async function dbPlugin (fastify) {
  const { dbPath, synchronous } = fastify.config
  const handle = openDatabase({ file: dbPath, synchronous })
  try {
    await migrateToLatest(handle.db)
  } catch (err) {
    await handle.close()
    throw err
  }
  fastify.decorate('db', handle.db)
  fastify.decorate('sqlite', handle.sqlite)
  fastify.addHook('onClose', async () => { await handle.close() })
}, { name: 'db', dependencies: ['config'] })
