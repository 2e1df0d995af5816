import fp from 'fastify-plugin'

/**
 * Once the server is closing, a response to a request still in flight says `Connection: close`:
 * the client opens a new connection (to another process, or to this one once restarted) for its
 * next request, and the server need not wait out the keep-alive timeout before it can exit.
 */
export default fp(async function shutdownPlugin (fastify) {
  let closing = false
  fastify.addHook('preClose', async () => { closing = true })
  // callback style: no promise per response on the hot path
  fastify.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close')
    done(null, payload)
  })
}, { name: 'shutdown' })
