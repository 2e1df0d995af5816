import fp from 'fastify-plugin'
import type { onResponseHookHandler } from 'fastify'
import { WebhookDispatcher } from '../services/webhook-dispatcher.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** the webhook delivery loop (running only when config.webhooksEnabled) */
    webhooks: WebhookDispatcher
  }
}

const READS = new Set(['GET', 'HEAD', 'OPTIONS'])

// The outbox dispatcher and delivery loop live in the server process. Their state is all in the
// database, so stopping (or crashing) and starting again resumes pending deliveries.
export default fp(async function webhooksPlugin (fastify) {
  const { config } = fastify
  const dispatcher = new WebhookDispatcher(fastify.engine, {
    pollMs: config.webhooksPollMs,
    retryBaseMs: config.webhooksRetryBaseMs,
    retryMaxMs: config.webhooksRetryMaxMs,
    retryWindowMs: config.webhooksRetryWindowMs,
    timeoutMs: config.webhooksTimeoutMs,
    connectTimeoutMs: config.webhooksConnectTimeoutMs,
    concurrency: config.webhooksConcurrency,
    accountConcurrency: config.webhooksAccountConcurrency,
    subscriptionConcurrency: config.webhooksSubscriptionConcurrency,
    retentionMs: config.webhooksRetentionDays * 86_400_000,
    allowLoopback: config.webhooksAllowLoopback,
    wakeups: fastify.engine.wakeups,
    log: fastify.log
  })
  fastify.decorate('webhooks', dispatcher)
  // registered after the db plugin, so this runs before the database is closed
  fastify.addHook('onClose', async () => { await dispatcher.stop() })
  // a process whose own loop is off still wakes the others' (on PostgreSQL)
  if (!config.webhooksEnabled && fastify.engine.wakeups === undefined) return

  if (config.webhooksEnabled) fastify.addHook('onReady', async () => { await dispatcher.start() })
  // a write may have recorded an event (even a refused one: clock.geofence_refused): wake the
  // loop (this process's, or the others' when it runs none) instead of waiting for the poll;
  // nudges within a few ms share one pass. Only routes that take writes get the hook, so reads
  // pay nothing for it.
  const nudge: onResponseHookHandler = (request, _reply, done) => {
    if (!READS.has(request.method)) dispatcher.nudge()
    done()
  }
  fastify.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    if (methods.every((method) => READS.has(method))) return
    const existing = route.onResponse === undefined ? [] : Array.isArray(route.onResponse) ? route.onResponse : [route.onResponse]
    route.onResponse = [...existing, nudge]
  })
}, { name: 'webhooks', dependencies: ['config', 'db'] })
