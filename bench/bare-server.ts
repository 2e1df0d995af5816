import Fastify from 'fastify'

// The baseline: a bare Fastify route answering a constant, measured in the same run as the API.
const app = Fastify({ logger: false })
app.get('/health', async () => ({ status: 'ok' }))
app.get('/constant', async () => ({ data: { id: 1, name: 'constant' } }))
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
process.on('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
