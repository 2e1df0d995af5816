import fp from 'fastify-plugin'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * The wall clock in milliseconds, for decisions judged against the time of a request (a key's
     * expiry, how far a clock event's timestamp may lie from now). Date.now unless buildApp was
     * given another, so a test can cross an expiry at once.
     */
    now: () => number
  }
}

export default fp(async function clockPlugin (fastify, opts: { now?: () => number }) {
  fastify.decorate('now', opts.now ?? Date.now)
}, { name: 'clock' })
