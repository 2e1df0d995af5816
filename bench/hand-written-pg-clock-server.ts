import Fastify from 'fastify'
import pg from 'pg'
import { keyOwner } from './hand-written-pg-key.js'

// The reference for the PostgreSQL clock benchmark, measured in the same run on the same
// database: `POST /api/v1/clock.php` for `in` and `out` written by hand with Fastify and a `pg`
// pool of the API's default size, sending the statements the API sends for those two actions (the
// key by its hash; then BEGIN, the worker read and locked, the action's facts, the entry's INSERT
// or UPDATE, the outbox event, COMMIT), each as a named statement prepared once per connection.
// Nothing else: no Kysely, no rules beyond "one open shift" (no breaks, cost codes, locations,
// geofences, surveys or timestamps in the body), no validation, rate limit, CORS, request id,
// Idempotency-Key, logging or webhook delivery loop. What a durable clock event costs on these
// cores before any of the API's own work.
//
// TEMPCLOCK_HAND_PIPELINE=1 also sends BEGIN with the worker's lock and the event with COMMIT
// without waiting in between (pg's pipeline mode): five waits for the database instead of seven.
const url = process.env.TEMPCLOCK_DATABASE_URL
if (url === undefined) throw new Error('TEMPCLOCK_DATABASE_URL is required')
const pipelined = process.env.TEMPCLOCK_HAND_PIPELINE === '1'
const pool = new pg.Pool({ connectionString: url, max: Number(process.env.TEMPCLOCK_DATABASE_POOL_SIZE ?? 10), pipeline: pipelined, options: '-c TimeZone=UTC' })
pool.on('error', () => {})

const WORKER_LOCKED = `select id, first_name, last_name, location_id, active,
  exists (select 1 from surveys where surveys.account_id = workers.account_id and surveys.active = true) as has_surveys
  from workers where id = $1 and account_id = $2 for no key update`
const IN_FACTS = `select latest.id as latest_id, latest.clock_out as latest_clock_out, latest.status as latest_status
  from workers as w left join time_entries as latest on latest.id = (select e.id from time_entries as e
    where e.account_id = $1 and e.worker_id = w.id and e.type = 'shift' order by e.clock_in desc limit 1)
  where w.id = $2`
const OUT_FACTS = `select shift.id as shift_id, shift.clock_in as shift_clock_in, shift.break_seconds as shift_break_seconds,
  brk.id as break_id, brk.status as break_status
  from workers as w left join time_entries as shift on shift.worker_id = w.id and shift.type = 'shift' and shift.status = 'active'
  left join time_entries as brk on brk.id = (select e.id from time_entries as e where e.parent_id = shift.id order by e.clock_in desc limit 1)
  where w.id = $1`
const ENTRY_COLUMNS = `id, account_id, type, parent_id, worker_id, location_id, cost_code_id, clock_in, clock_out, duration_seconds,
  break_seconds, status, source, notes, latitude, longitude, gps_accuracy, within_geofence, distance_meters,
  low_gps_confidence, created_at, updated_at, survey_response_id`
const INSERT_SHIFT = `insert into time_entries (account_id, type, worker_id, clock_in, status, created_at, updated_at)
  values ($1, 'shift', $2, $3, 'active', $3, $3) returning ${ENTRY_COLUMNS}`
const CLOSE_SHIFT = `update time_entries set clock_out = $1, duration_seconds = $2, status = 'completed', updated_at = $1
  where id = $3 returning ${ENTRY_COLUMNS}`
const INSERT_EVENT = 'insert into events (account_id, type, payload, created_at, dispatched_at) values ($1, $2, $3, $4, null) returning id'

interface WorkerRow { id: number, first_name: string, last_name: string, active: boolean }
interface Body { worker_id?: unknown, action?: unknown }

const app = Fastify({ logger: false })
app.get('/health', async () => ({ status: 'ok' }))
app.post<{ Body: Body }>('/api/v1/clock.php', async (request, reply) => {
  const accountId = await keyOwner(pool, request.headers.authorization)
  if (accountId === undefined) return await reply.code(401).send({ error: 'Invalid API key' })
  const { worker_id: workerId, action } = request.body
  if (typeof workerId !== 'number' || (action !== 'in' && action !== 'out')) return await reply.code(400).send({ error: 'bad request' })
  const client = await pool.connect()
  let open = false
  try {
    let worker: WorkerRow | undefined
    if (pipelined) {
      const begun = client.query('begin')
      const locked = client.query<WorkerRow>({ name: 'worker_locked', text: WORKER_LOCKED, values: [workerId, accountId] })
      locked.catch(() => {}) // a failed BEGIN is the one reported
      open = true
      await begun
      worker = (await locked).rows[0]
    } else {
      await client.query('begin')
      open = true
      worker = (await client.query<WorkerRow>({ name: 'worker_locked', text: WORKER_LOCKED, values: [workerId, accountId] })).rows[0]
    }
    if (worker === undefined || !worker.active) return await reply.code(404).send({ error: 'worker not found' })
    const now = new Date(Math.floor(Date.now() / 1000) * 1000)
    let entry: Record<string, unknown> & { worker_name?: string }
    if (action === 'in') {
      const facts = (await client.query({ name: 'in_facts', text: IN_FACTS, values: [accountId, workerId] })).rows[0]
      if (facts.latest_id !== null && facts.latest_status === 'active') return await reply.code(409).send({ error: 'already clocked in' })
      entry = (await client.query({ name: 'insert_shift', text: INSERT_SHIFT, values: [accountId, workerId, now] })).rows[0]
    } else {
      const facts = (await client.query({ name: 'out_facts', text: OUT_FACTS, values: [workerId] })).rows[0]
      if (facts.shift_id === null) return await reply.code(409).send({ error: 'not clocked in' })
      const duration = Math.round((now.getTime() - (facts.shift_clock_in as Date).getTime()) / 1000) - (facts.shift_break_seconds as number)
      entry = (await client.query({ name: 'close_shift', text: CLOSE_SHIFT, values: [now, Math.max(0, duration), facts.shift_id] })).rows[0]
    }
    entry.worker_name = `${worker.first_name} ${worker.last_name}`
    const event = { name: 'insert_event', text: INSERT_EVENT, values: [accountId, action === 'in' ? 'clock_in' : 'clock_out', JSON.stringify(entry), now] }
    if (pipelined) {
      const recorded = client.query(event)
      const committed = client.query('commit')
      // after a failed INSERT the COMMIT rolls back: the INSERT's error is the one reported
      committed.catch(() => {})
      open = false
      await recorded
      await committed
    } else {
      await client.query(event)
      open = false
      await client.query('commit')
    }
    return await reply.code(action === 'in' ? 201 : 200).send({ data: entry })
  } finally {
    if (open) await client.query('rollback').catch(() => {})
    client.release()
  }
})
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
process.on('SIGTERM', () => { app.close().then(async () => { await pool.end(); process.exit(0) }, () => process.exit(1)) })
