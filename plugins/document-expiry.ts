import fp from 'fastify-plugin'
import { DocumentExpiryService } from '../services/document-expiry.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** the document expiry check (running only when config.documentExpiryEnabled) */
    documentExpiry: DocumentExpiryService
  }
}

// The expiry check runs in every server process: its state is in the database, so processes
// sharing one database never announce an expiry twice, and a restart catches up.
export default fp(async function documentExpiryPlugin (fastify) {
  const { config } = fastify
  const service = new DocumentExpiryService(fastify.engine, {
    intervalMs: config.documentExpiryIntervalMs,
    onAnnounced: () => { fastify.webhooks.nudge() },
    log: fastify.log
  })
  fastify.decorate('documentExpiry', service)
  if (!config.documentExpiryEnabled) return
  fastify.addHook('onReady', async () => { service.start() })
  // registered after the db plugin, so this runs before the database is closed
  fastify.addHook('onClose', async () => { await service.stop() })
}, { name: 'document-expiry', dependencies: ['config', 'db', 'webhooks'] })
