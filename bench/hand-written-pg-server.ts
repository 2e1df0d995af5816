import Fastify from 'fastify'
import pg from 'pg'
import { keyOwner } from './hand-written-pg-key.js'

// The reference for the PostgreSQL read benchmark, measured in the same run: the authenticated
// `GET /api/v1/workers.php?id=N` written by hand with Fastify and a `pg` pool of the API's default
// size, running the queries the API runs (the key by its hash joined to its account, then the
// worker row with its location's and department's names), without Kysely and without the API's
// other per-request work (CORS, rate limit, request id, scope check, query validation, response
// schema, logging). Both as named statements, prepared once per connection, as the API's
// compiled queries are.
const url = process.env.TEMPCLOCK_DATABASE_URL
if (url === undefined) throw new Error('TEMPCLOCK_DATABASE_URL is required')
const pool = new pg.Pool({ connectionString: url, max: Number(process.env.TEMPCLOCK_DATABASE_POOL_SIZE ?? 10) })
pool.on('error', () => {})

const WORKER_BY_ID = `select workers.id, workers.first_name, workers.last_name, workers.employee_ref, workers.email,
  workers.phone, workers.location_id, workers.department_id, workers.preferred_language, workers.active,
  workers.created_at, workers.updated_at,
  (select locations.name from locations where locations.id = workers.location_id) as location_name,
  (select departments.name from departments where departments.id = workers.department_id) as department
  from workers where workers.id = $1 and workers.account_id = $2`

const app = Fastify({ logger: false })
app.get('/health', async () => ({ status: 'ok' }))
app.get<{ Querystring: { id?: string } }>('/api/v1/workers.php', async (request, reply) => {
  const accountId = await keyOwner(pool, request.headers.authorization)
  if (accountId === undefined) return await reply.code(401).send({ error: 'Invalid API key' })
  const worker = (await pool.query({ name: 'worker_by_id', text: WORKER_BY_ID, values: [Number(request.query.id), accountId] })).rows[0]
  if (worker === undefined) return await reply.code(404).send({ error: 'not found' })
  return { data: worker }
})
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
process.on('SIGTERM', () => { app.close().then(async () => { await pool.end(); process.exit(0) }, () => process.exit(1)) })
