import fp from 'fastify-plugin'
import type { Kysely } from 'kysely'
import type { Engine } from '../db/engine/engine.js'
import { openEngine } from '../db/engine/open.js'
import type { Database } from '../db/types.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** the database engine: every store takes it (db/engine/engine.ts) */
    engine: Engine
    /** `engine.db`: the query builder for reads outside a write (tests, checks) */
    db: Kysely<Database>
  }
}

export default fp(async function dbPlugin (fastify) {
  const { dbPath, synchronous, databaseUrl, databasePoolSize, databaseConnectTimeoutMs, databaseStatementTimeoutMs, writeGuard } = fastify.config
  const engine = openEngine({
    dbPath,
    synchronous,
    databaseUrl,
    databasePoolSize,
    databaseConnectTimeoutMs,
    databaseStatementTimeoutMs,
    writeGuard,
    onError: (err) => { fastify.log.warn({ err }, 'database connection lost; reconnecting on demand') }
  })
  try {
    await engine.migrate()
  } catch (err) {
    await engine.close()
    throw err
  }
  fastify.decorate('engine', engine)
  fastify.decorate('db', engine.db)
  fastify.addHook('onClose', async () => { await engine.close() })
}, { name: 'db', dependencies: ['config'] })
