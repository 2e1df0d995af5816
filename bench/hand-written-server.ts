import { hash } from 'node:crypto'
import Fastify from 'fastify'
import BetterSqlite3 from 'better-sqlite3'

// A reference point for the read benchmark, measured in the same run: the same authenticated
// `GET /api/v1/locations.php?id=N` written by hand the way issue 2 describes it: one Fastify route,
// a SHA-256 of the key, two prepared statements (the key and the row), JSON out. None of the API's
// other per-request work: no CORS, rate limit, request id, scope check, change watch, logging,
// query validation or response schema. It shows how much of the bare route's speed any
// database-backed, authenticated route keeps on this machine.
const file = process.env.TEMPCLOCK_DB
if (file === undefined) throw new Error('TEMPCLOCK_DB is required')
const db = new BetterSqlite3(file, { readonly: true })
const keyByHash = db.prepare(`select api_keys.account_id, api_keys.revoked_at, accounts.api_enabled
  from api_keys join accounts on accounts.id = api_keys.account_id where api_keys.key_hash = ?`)
const locationById = db.prepare('select * from locations where id = ? and account_id = ?')

const app = Fastify({ logger: false })
app.get('/health', async () => ({ status: 'ok' }))
app.get<{ Querystring: { id?: string } }>('/api/v1/locations.php', async (request, reply) => {
  const header = request.headers.authorization ?? ''
  const key = header.slice(0, 7).toLowerCase() === 'bearer ' ? header.slice(7) : ''
  const owner = keyByHash.get(hash('sha256', key, 'hex')) as { account_id: number, revoked_at: string | null, api_enabled: number } | undefined
  if (owner === undefined || owner.revoked_at !== null || owner.api_enabled !== 1) return await reply.code(401).send({ error: 'Invalid API key' })
  const row = locationById.get(Number(request.query.id), owner.account_id) as Record<string, unknown> | undefined
  if (row === undefined) return await reply.code(404).send({ error: 'not found' })
  const { account_id: _account, ...location } = row
  return { data: { ...location, active: row.active === 1 } }
})
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
process.on('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
