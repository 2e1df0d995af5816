/**
 * The API answers the same on both engines: one sequence of requests (every resource, its lists,
 * filters, paging and search, the clock, and the errors) goes to an app on SQLite and to an app on
 * PostgreSQL, and each answer must be identical once the values that may differ between two runs
 * are replaced by placeholders: ids (PostgreSQL's sequences move on a rolled-back insert, SQLite's
 * do not), the time of the request, request ids and secrets. A placeholder replaces a value only
 * when it has the expected type and form (an id a number, a timestamp ISO-8601 UTC to the second),
 * so a boolean read back as 0/1 or a timestamp with milliseconds on one engine still differs.
 */
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../app.js'
import { testConfig, type AppConfig } from '../plugins/config.js'
import { call, createTestAccount } from './helper.js'
import { freshPostgresDatabase, postgresSkip } from './postgres.js'

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

interface Answer {
  request: string
  status: number
  contentType: string | undefined
  body: Json
}

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/
const SECRET_FIELDS = new Set(['secret', 'key', 'request_id'])

function isIdField (key: string): boolean {
  return key === 'id' || key.endsWith('_id') || key === 'entry_id'
}

/** The answer with run-dependent values replaced; anything of another type or form is left as is. */
function normalize (value: Json, key = ''): Json {
  if (Array.isArray(value)) return value.map((item) => normalize(item, key.endsWith('_ids') ? key.slice(0, -1) : key))
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v, k)]))
  }
  if (typeof value === 'number' && isIdField(key)) return '<id>'
  if (typeof value === 'string' && SECRET_FIELDS.has(key) && value.length > 0) return '<secret>'
  if (typeof value === 'string' && TIMESTAMP.test(value)) return '<timestamp>'
  // ids inside messages ("worker 12 not found")
  if (typeof value === 'string' && key === 'message') return value.replace(/\b\d+\b/g, '<n>')
  return value
}


/**
 * The requests. Later requests use the ids of earlier answers (each app's own), so the sequence is
 * the same on both engines even when their ids differ.
 */
async function conversation (app: FastifyInstance): Promise<Answer[]> {
  // every past time from one instant: read per call, a second could pass between 'in' and 'out'
  // and make one run's shift a second longer than the other's
  const start = Math.floor(Date.now() / 1000) * 1000
  const hoursAgo = (hours: number): string => new Date(start - hours * 3_600_000).toISOString().replace('.000Z', 'Z')
  const { key } = await createTestAccount(app, { name: 'Compare', timezone: 'Europe/London' })
  const other = await createTestAccount(app, { name: 'Other' })
  const answers: Answer[] = []
  const send = async (method: string, url: string, payload?: unknown, asKey = key): Promise<any> => {
    const res = await call(app, asKey, { method: method as 'GET', url, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) })
    const body = res.body === '' ? null : res.json() as Json
    // the ids and times in the URL are this run's own
    const request = `${method} ${url}`.replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z/g, '<timestamp>').replace(/(id=)\d+/g, '$1<id>')
    answers.push({ request, status: res.statusCode, contentType: res.headers['content-type'] as string | undefined, body })
    return body
  }
  const id = (body: any): number => {
    if (typeof body?.data?.id !== 'number') throw new Error(`the conversation expected a record: ${JSON.stringify(answers.at(-1))}`)
    return body.data.id as number
  }

  // locations, departments, cost codes
  const site = id(await send('POST', '/api/v1/locations.php', { name: 'North Site', address_line1: '1 Mill Lane', city: 'Leeds', postcode: 'LS1 4AP', latitude: 53.8013, longitude: -1.4441, geofence_radius_m: 150 }))
  const depot = id(await send('POST', '/api/v1/locations.php', { name: 'depot 50% east', timezone: 'Europe/Paris' }))
  await send('PUT', `/api/v1/locations.php?id=${depot}`, { active: false })
  await send('GET', '/api/v1/locations.php')
  await send('GET', '/api/v1/locations.php?active=false')
  await send('GET', `/api/v1/locations.php?id=${site}`)
  await send('GET', '/api/v1/locations.php?search=50%25')
  await send('GET', '/api/v1/locations.php?search=NORTH')
  const dept = id(await send('POST', '/api/v1/departments.php', { name: 'Packing', location_id: site }))
  await send('POST', '/api/v1/departments.php', { name: 'Nowhere', location_id: 987654 })
  await send('GET', `/api/v1/departments.php?location_id=${site}`)
  const cc = id(await send('POST', '/api/v1/cost-codes.php', { code: 'CC-1', name: 'Overtime' }))
  await send('POST', '/api/v1/cost-codes.php', { code: 'CC-1', name: 'Duplicate' })
  await send('POST', '/api/v1/cost-codes.php', { code: 'CC-2', name: 'Standard' })
  await send('PUT', `/api/v1/cost-codes.php?id=${cc}`, { name: 'Overtime rate' })
  await send('GET', '/api/v1/cost-codes.php')

  // workers: create, conflicts, validation, filters, search, paging
  const ann = id(await send('POST', '/api/v1/workers.php', { first_name: 'Ann', last_name: 'Archer', employee_ref: 'E-1', email: 'ann@example.com', location_id: site, department_id: dept }))
  const bob = id(await send('POST', '/api/v1/workers.php', { first_name: 'bob', last_name: 'Baker', employee_ref: 'E-2' }))
  await send('POST', '/api/v1/workers.php', { first_name: 'Dup', last_name: 'Ref', employee_ref: 'E-1' })
  await send('POST', '/api/v1/workers.php', { first_name: '', last_name: 'Empty' })
  await send('POST', '/api/v1/workers.php', { first_name: 'No', last_name: 'Ref' })
  await send('PUT', `/api/v1/workers.php?id=${bob}`, { active: false, employee_ref: null })
  await send('PUT', `/api/v1/workers.php?id=${bob}`, { employee_ref: 'E-1' })
  await send('GET', '/api/v1/workers.php')
  await send('GET', '/api/v1/workers.php?active=true')
  await send('GET', '/api/v1/workers.php?active=false')
  await send('GET', `/api/v1/workers.php?location_id=${site}`)
  await send('GET', '/api/v1/workers.php?search=BAK')
  await send('GET', '/api/v1/workers.php?limit=1')
  await send('GET', '/api/v1/workers.php?limit=1&offset=1')
  await send('GET', `/api/v1/workers.php?after_id=${ann}`)
  await send('GET', `/api/v1/workers.php?updated_since=${hoursAgo(1)}`)
  await send('GET', `/api/v1/workers.php?id=${ann}`)
  await send('GET', '/api/v1/workers.php?id=987654')
  await send('GET', `/api/v1/workers.php?id=${ann}`, undefined, other.key)
  await send('DELETE', '/api/v1/workers.php?id=987654')

  // shifts
  const shift = id(await send('POST', '/api/v1/shifts.php', { location_id: site, worker_id: ann, department_id: dept, cost_code_id: cc, start_time: '2030-01-01T08:00:00Z', end_time: '2030-01-01T16:00:00Z', notes: 'Early' }))
  await send('POST', '/api/v1/shifts.php', { location_id: site, worker_id: ann, start_time: '2030-01-01T12:00:00Z', end_time: '2030-01-01T20:00:00Z' })
  await send('POST', '/api/v1/shifts.php', { location_id: site, start_time: '2030-01-02T16:00:00Z', end_time: '2030-01-02T08:00:00Z' })
  await send('PUT', `/api/v1/shifts.php?id=${shift}`, { notes: 'Moved', end_time: '2030-01-01T17:00:00Z' })
  await send('GET', '/api/v1/shifts.php')
  await send('GET', `/api/v1/shifts.php?worker_id=${ann}`)

  // surveys and the clock: in with a survey, break, out; errors on the way
  const survey = id(await send('POST', '/api/v1/surveys.php', { name: 'Fit for work', location_ids: [site], questions: [{ id: 'fit', text: 'Fit for work?', type: 'yes_no', accept: [true] }] }))
  await send('POST', '/api/v1/surveys.php', { name: 'Everywhere', questions: [{ id: 'ok', text: 'OK?', type: 'yes_no' }] })
  await send('POST', '/api/v1/surveys.php', { name: 'Everywhere again', questions: [{ id: 'ok', text: 'OK?', type: 'yes_no' }] })
  await send('GET', '/api/v1/surveys.php')
  await send('GET', `/api/v1/surveys.php?location_id=${site}`)
  await send('POST', '/api/v1/clock.php', { worker_id: ann, action: 'in', location_id: site, survey_id: survey, survey_answers: { fit: false }, timestamp: hoursAgo(5) })
  await send('POST', '/api/v1/clock.php', { worker_id: ann, action: 'in', location_id: site, cost_code_id: cc, survey_id: survey, survey_answers: { fit: true }, timestamp: hoursAgo(4), latitude: 53.8013, longitude: -1.4441, gps_accuracy: 12, notes: 'Gate 2' })
  await send('POST', '/api/v1/clock.php', { worker_id: ann, action: 'in', location_id: site })
  await send('GET', '/api/v1/on-site-now.php')
  await send('POST', '/api/v1/clock.php', { worker_id: ann, action: 'break_start', timestamp: hoursAgo(3) })
  await send('POST', '/api/v1/clock.php', { worker_id: ann, action: 'break_end', timestamp: hoursAgo(2.5) })
  await send('POST', '/api/v1/clock.php', { worker_id: ann, action: 'out', timestamp: hoursAgo(1) })
  await send('POST', '/api/v1/clock.php', { worker_id: ann, action: 'out' })
  await send('POST', '/api/v1/clock.php', { worker_id: bob, action: 'in' })
  await send('GET', '/api/v1/timesheets.php')
  await send('GET', '/api/v1/timesheets.php?entry_filter=breaks')
  await send('GET', '/api/v1/timesheets.php?entry_filter=all')
  await send('GET', `/api/v1/timesheets.php?worker_id=${ann}&entry_filter=all&limit=1`)
  await send('GET', '/api/v1/survey-responses.php')
  await send('GET', `/api/v1/survey-responses.php?worker_id=${ann}`)

  // documents
  const doc = id(await send('POST', '/api/v1/documents.php', { worker_id: ann, type: 'Forklift licence', reference: 'FL-1', expires_on: '2030-01-01' }))
  await send('POST', '/api/v1/documents.php', { worker_id: ann, type: 'First aid', expires_on: '2020-01-01' })
  await send('POST', '/api/v1/documents.php', { worker_id: ann, type: 'Bad date', expires_on: '2030-02-30' })
  await send('PUT', `/api/v1/documents.php?id=${doc}`, { notes: 'Checked' })
  await send('GET', '/api/v1/documents.php')
  await send('GET', `/api/v1/documents.php?worker_id=${ann}`)
  await send('GET', '/api/v1/documents.php?status=expired')

  // webhook subscriptions
  const hook = id(await send('POST', '/api/v1/webhooks.php', { url: 'https://hooks.example.com/tempclock', events: ['clock_in', 'clock_out'], description: 'Payroll' }))
  await send('POST', '/api/v1/webhooks.php', { url: 'ftp://hooks.example.com/x', events: ['*'] })
  await send('PUT', `/api/v1/webhooks.php?id=${hook}`, { active: false })
  await send('GET', '/api/v1/webhooks.php')
  await send('DELETE', `/api/v1/webhooks.php?id=${hook}`)
  await send('GET', '/api/v1/webhooks.php')

  // deletes and what they leave
  await send('DELETE', `/api/v1/shifts.php?id=${shift}`)
  await send('DELETE', `/api/v1/documents.php?id=${doc}`)
  await send('DELETE', `/api/v1/locations.php?id=${site}`)
  await send('GET', '/api/v1/workers.php?id=abc')
  await send('GET', '/api/v1/workers.php', undefined, 'tc_live_' + '0'.repeat(40))
  return answers
}

t.test('the same requests get the same answers on SQLite and on PostgreSQL', { skip: await postgresSkip() }, async (t) => {
  const build = async (overrides: Partial<AppConfig>): Promise<FastifyInstance> => {
    const app = await buildApp(testConfig(overrides))
    t.after(async () => { await app.close() })
    return app
  }
  // whatever TEMPCLOCK_TEST_ENGINE says: one app on each engine
  const onSqlite = await conversation(await build({ dbPath: ':memory:' }))
  const onPostgres = await conversation(await build({ databaseUrl: await freshPostgresDatabase(t) }))
  t.equal(onPostgres.length, onSqlite.length)
  // the conversation must reach its errors and its successes, or comparing them proves little
  const statuses = new Set(onSqlite.map((a) => a.status))
  for (const status of [200, 201, 400, 401, 404, 409]) t.ok(statuses.has(status), `the conversation gets a ${status}`)
  for (const [i, sqlite] of onSqlite.entries()) {
    const postgres = onPostgres[i]!
    t.strictSame({ ...postgres, body: normalize(postgres.body) }, { ...sqlite, body: normalize(sqlite.body) }, sqlite.request)
  }
})

t.test('the comparison notices a boolean as 0/1, a timestamp with milliseconds and an id as text', async (t) => {
  const answer = { data: { id: 3, active: true, created_at: '2026-12-07T06:35:43Z', worker_id: 4 } }
  t.strictNotSame(normalize({ data: { ...answer.data, active: 1 } }), normalize(answer))
  t.strictNotSame(normalize({ data: { ...answer.data, created_at: '2026-12-07T06:35:43.000Z' } }), normalize(answer))
  t.strictNotSame(normalize({ data: { ...answer.data, id: '3' } }), normalize(answer))
  t.strictSame(normalize({ data: { ...answer.data, id: 9, created_at: '2027-01-01T00:00:00Z' } }), normalize(answer))
})
