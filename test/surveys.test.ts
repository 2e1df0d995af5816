import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, call, createTestAccount, createTestKey, type TestAccount } from './helper.js'
import { createLocation, events, insertWorker, minutesAgo } from './time-fixtures.js'

const QUESTIONS = [
  { id: 'fit_for_work', text: 'Are you fit for work today?', type: 'yes_no', required: true, accept: [true] },
  { id: 'ppe', text: 'Which PPE do you have?', type: 'choice', required: true, options: ['full', 'partial', 'none'], accept: ['full'] },
  { id: 'note', text: 'Anything to report?', type: 'text', required: false }
]
const GOOD = { fit_for_work: true, ppe: 'full' }

const post = (url: string, payload: unknown, headers: Record<string, string> = {}) => ({ method: 'POST' as const, url, payload: payload as Record<string, unknown>, headers })
const clock = (body: Record<string, unknown>, headers: Record<string, string> = {}) => post('/api/v1/clock.php', body, headers)

async function createSurvey (app: FastifyInstance, acct: TestAccount, body: Record<string, unknown>) {
  const res = await call(app, acct.key, post('/api/v1/surveys.php', { name: 'Fit for work', questions: QUESTIONS, ...body }))
  if (res.statusCode !== 201) throw new Error(res.body)
  return res.json().data
}

t.test('surveys: create, read, list filters, partial update; the record\'s fields', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const a = await createLocation(app, acct.id, { name: 'A' })
  const b = await createLocation(app, acct.id, { name: 'B' })
  const res = await call(app, acct.key, post('/api/v1/surveys.php', { name: 'Site A', location_ids: [a.id], questions: QUESTIONS }))
  t.equal(res.statusCode, 201)
  const survey = res.json().data
  t.same(Object.keys(survey).sort(), ['active', 'created_at', 'id', 'location_ids', 'name', 'questions', 'updated_at'])
  t.match(survey, { name: 'Site A', active: true, location_ids: [a.id] })
  t.same(survey.questions, [
    { id: 'fit_for_work', text: 'Are you fit for work today?', type: 'yes_no', required: true, options: null, accept: [true] },
    { id: 'ppe', text: 'Which PPE do you have?', type: 'choice', required: true, options: ['full', 'partial', 'none'], accept: ['full'] },
    { id: 'note', text: 'Anything to report?', type: 'text', required: false, options: null, accept: null }
  ])
  const wide = await createSurvey(app, acct, { name: 'Everywhere', questions: [{ id: 'ok', text: 'OK?', type: 'yes_no' }] })
  t.same(wide.questions, [{ id: 'ok', text: 'OK?', type: 'yes_no', required: true, options: null, accept: null }], 'required defaults to true')
  const off = await createSurvey(app, acct, { name: 'Old', active: false, location_ids: [b.id] })

  const get = async (q: string) => (await call(app, acct.key, { method: 'GET', url: `/api/v1/surveys.php?${q}` })).json()
  t.same((await get(`id=${survey.id as number}`)).data, survey)
  t.same((await get('')).data.map((s: { id: number }) => s.id), [survey.id, wide.id, off.id])
  t.same((await get('active=1')).data.map((s: { id: number }) => s.id), [survey.id, wide.id])
  t.same((await get('active=false')).data.map((s: { id: number }) => s.id), [off.id])
  t.same((await get(`location_id=${a.id}`)).data.map((s: { id: number }) => s.id), [survey.id, wide.id], 'listing it, or account-wide')
  t.same((await get(`location_id=${b.id}`)).data.map((s: { id: number }) => s.id), [wide.id, off.id])

  const put = await call(app, acct.key, { method: 'PUT', url: `/api/v1/surveys.php?id=${survey.id as number}`, payload: { name: 'Site A and B', location_ids: [a.id, b.id] } })
  t.equal(put.statusCode, 200)
  t.match(put.json().data, { name: 'Site A and B', location_ids: [a.id, b.id], active: true, questions: survey.questions })
  const missing = await call(app, acct.key, { method: 'GET', url: '/api/v1/surveys.php?id=999999' })
  t.equal(missing.statusCode, 404)
  t.equal(missing.json().message, 'Survey 999999 not found')
})

t.test('surveys: malformed bodies are 400 and write nothing; unknown locations 404', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const q = { id: 'a', text: 'Q', type: 'yes_no' }
  const cases: Array<[Record<string, unknown>, number, RegExp]> = [
    [{ questions: [q] }, 400, /Missing required field: name/],
    [{ name: 'S' }, 400, /Missing required field: questions/],
    [{ name: 'S', questions: [] }, 400, /questions: must have at least 1 items/],
    [{ name: 'S', questions: Array.from({ length: 51 }, (_, i) => ({ ...q, id: `q${i}` })) }, 400, /at most 50/],
    [{ name: 'S', questions: [{ ...q, type: 'scale' }] }, 400, /type: must be one of yes_no, choice, text/],
    [{ name: 'S', questions: [{ ...q, id: 'Has Space' }] }, 400, /questions.0.id/],
    [{ name: 'S', questions: [{ ...q, colour: 'red' }] }, 400, /Unknown field: questions.0.colour/],
    [{ name: 'S', questions: [q, q] }, 400, /question ids must be unique/],
    [{ name: 'S', questions: [{ ...q, type: 'choice' }] }, 400, /needs options/],
    [{ name: 'S', questions: [{ ...q, type: 'choice', options: ['x', 'y'], accept: ['z'] }] }, 400, /some of its options/],
    [{ name: 'S', questions: [q], location_ids: [] }, 400, /location_ids/],
    [{ name: 'S', questions: [q], colour: 'red' }, 400, /Unknown field: colour/],
    [{ name: 'S', questions: [q], location_ids: [999999] }, 404, /Location 999999 not found/]
  ]
  for (const [body, status, message] of cases) {
    const res = await call(app, acct.key, post('/api/v1/surveys.php', body))
    t.equal(res.statusCode, status, JSON.stringify(body).slice(0, 80))
    t.match(res.json().message, message)
  }
  const unknownParam = await call(app, acct.key, { method: 'GET', url: '/api/v1/surveys.php?colour=red' })
  t.equal(unknownParam.statusCode, 400)
  t.equal((await app.db.selectFrom('surveys').selectAll().execute()).length, 0)
})

t.test('one applicable survey per location: 409 survey_conflict naming the other', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const a = await createLocation(app, acct.id, { name: 'A' })
  const b = await createLocation(app, acct.id, { name: 'B' })
  const wide = await createSurvey(app, acct, { name: 'Everywhere' })
  const atA = await createSurvey(app, acct, { name: 'At A', location_ids: [a.id] })
  t.ok(atA.id, 'a location-specific survey may sit under an account-wide one')

  const secondWide = await call(app, acct.key, post('/api/v1/surveys.php', { name: 'Also everywhere', questions: QUESTIONS }))
  t.equal(secondWide.statusCode, 409)
  t.equal(secondWide.json().code, 'survey_conflict')
  t.match(secondWide.json().message, new RegExp(`Survey ${wide.id as number} \\(Everywhere\\)`))
  const secondA = await call(app, acct.key, post('/api/v1/surveys.php', { name: 'Also A', location_ids: [b.id, a.id], questions: QUESTIONS }))
  t.equal(secondA.statusCode, 409)
  t.match(secondA.json(), { code: 'survey_conflict', message: new RegExp(`Survey ${atA.id as number} \\(At A\\) is already active at location ${a.id}`) })

  // inactive ones never clash; activating one does
  const spare = await createSurvey(app, acct, { name: 'Spare', location_ids: [a.id], active: false })
  const activate = await call(app, acct.key, { method: 'PUT', url: `/api/v1/surveys.php?id=${spare.id as number}`, payload: { active: true } })
  t.equal(activate.statusCode, 409)
  t.equal(activate.json().code, 'survey_conflict')
  const moveIn = await call(app, acct.key, { method: 'PUT', url: `/api/v1/surveys.php?id=${spare.id as number}`, payload: { active: true, location_ids: [b.id] } })
  t.equal(moveIn.statusCode, 200, 'at another location it is fine')
  // a survey never clashes with itself
  t.equal((await call(app, acct.key, { method: 'PUT', url: `/api/v1/surveys.php?id=${atA.id as number}`, payload: { name: 'At A (v2)' } })).statusCode, 200)
  t.equal((await call(app, acct.key, { method: 'PUT', url: `/api/v1/surveys.php?id=${wide.id as number}`, payload: { active: false } })).statusCode, 200)
  t.equal((await call(app, acct.key, post('/api/v1/surveys.php', { name: 'New everywhere', questions: QUESTIONS }))).statusCode, 201)
  // another account's surveys are not in the way
  const other = await createTestAccount(app, { name: 'Other' })
  t.equal((await call(app, other.key, post('/api/v1/surveys.php', { name: 'Theirs', questions: QUESTIONS }))).statusCode, 201)
})

t.test('the clock-in gate: not answered and failed are 403 with the event and no entry; passed is 201 with survey_response_id', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const site = await createLocation(app, acct.id, { name: 'Site' })
  const survey = await createSurvey(app, acct, { location_ids: [site.id] })
  const worker = await insertWorker(app.db, acct.id, { location_id: site.id })
  const entries = async () => (await app.db.selectFrom('time_entries').select('id').execute()).length
  const responses = async (q = '') => (await call(app, acct.key, { method: 'GET', url: `/api/v1/survey-responses.php?${q}` })).json().data

  const none = await call(app, acct.key, clock({ worker_id: worker, action: 'in' }))
  t.equal(none.statusCode, 403)
  t.equal(none.json().code, 'blocked_by_survey')
  t.match(none.json().message, new RegExp(`survey ${survey.id as number} \\(Fit for work\\)`))
  t.same((await events(app.db, acct.id)).map((e) => e.data), [{ worker_id: worker, location_id: site.id, survey_id: survey.id, reason: 'not_answered', failed_questions: [] }])
  t.same(await responses(), [], 'nothing answered, nothing kept')

  const bad = await call(app, acct.key, clock({ worker_id: worker, action: 'in', survey_id: survey.id, survey_answers: { fit_for_work: 'yes', ppe: 'full' } }))
  t.equal(bad.statusCode, 400)
  t.match(bad.json(), { code: 'validation_error', message: /survey_answers.fit_for_work: must be true or false/ })
  const wrongSurvey = await call(app, acct.key, clock({ worker_id: worker, action: 'in', survey_id: survey.id + 100, survey_answers: GOOD }))
  t.equal(wrongSurvey.statusCode, 400)
  t.match(wrongSurvey.json().message, /survey_id/)
  t.equal((await events(app.db, acct.id)).length, 1, 'a malformed submission writes no event')

  const failed = await call(app, acct.key, clock({ worker_id: worker, action: 'in', survey_id: survey.id, survey_answers: { fit_for_work: false, ppe: 'full', note: 'headache' } }))
  t.equal(failed.statusCode, 403)
  t.match(failed.json(), { code: 'blocked_by_survey', message: /fit_for_work/ })
  t.same((await events(app.db, acct.id, 'clock.blocked_by_survey'))[1]!.data, { worker_id: worker, location_id: site.id, survey_id: survey.id, reason: 'failed', failed_questions: ['fit_for_work'] })
  t.equal(await entries(), 0, 'blocked: no time entry')

  const passed = await call(app, acct.key, clock({ worker_id: worker, action: 'in', timestamp: minutesAgo(1), survey_id: survey.id, survey_answers: GOOD }))
  t.equal(passed.statusCode, 201)
  const entry = passed.json().data
  t.type(entry.survey_response_id, 'number')
  t.equal((await events(app.db, acct.id, 'clock_in'))[0]!.data.survey_response_id, entry.survey_response_id, 'the clock_in event shows it too')

  const kept = await responses()
  t.equal(kept.length, 2, 'every answered submission is kept')
  t.same(Object.keys(kept[0]).sort(), ['answers', 'created_at', 'failed_questions', 'id', 'location_id', 'passed', 'submitted_at', 'survey_id', 'time_entry_id', 'updated_at', 'worker_id'])
  t.match(kept[0], { survey_id: survey.id, worker_id: worker, location_id: site.id, time_entry_id: null, passed: false, answers: { fit_for_work: false, ppe: 'full', note: 'headache' }, failed_questions: ['fit_for_work'] })
  t.match(kept[1], { id: entry.survey_response_id, time_entry_id: entry.id, passed: true, answers: GOOD, failed_questions: [], submitted_at: entry.clock_in })
  t.same((await responses('passed=1')).map((r: { id: number }) => r.id), [kept[1].id])
  t.same((await responses('passed=0')).map((r: { id: number }) => r.id), [kept[0].id])
  t.same((await responses(`worker_id=${worker}&survey_id=${survey.id as number}`)).length, 2)
  t.same(await responses('worker_id=999999'), [])
  const one = await call(app, acct.key, { method: 'GET', url: `/api/v1/survey-responses.php?id=${kept[1].id as number}` })
  t.same(one.json().data, kept[1])
  t.equal((await call(app, acct.key, { method: 'GET', url: '/api/v1/survey-responses.php?id=999999' })).statusCode, 404)
  const today = entry.clock_in.slice(0, 10)
  t.equal((await responses(`start_date=${today}&end_date=${today}`)).length, 2)
  t.equal((await responses('end_date=2020-01-01')).length, 0)
  t.equal((await call(app, acct.key, { method: 'GET', url: '/api/v1/survey-responses.php?start_date=2025-02-01&end_date=2025-01-01' })).statusCode, 400)

  // clock-out needs no survey
  t.equal((await call(app, acct.key, clock({ worker_id: worker, action: 'out' }))).statusCode, 200)
})

t.test('which survey applies: location-specific first, account-wide elsewhere, none without an active one', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const a = await createLocation(app, acct.id, { name: 'A' })
  const b = await createLocation(app, acct.id, { name: 'B' })
  const atA = await createSurvey(app, acct, { name: 'At A', location_ids: [a.id], questions: [{ id: 'a_ok', text: 'OK at A?', type: 'yes_no', accept: [true] }] })
  const w = async () => await insertWorker(app.db, acct.id)

  // no survey at B yet: the fields are ignored
  t.equal((await call(app, acct.key, clock({ worker_id: await w(), action: 'in', location_id: b.id, survey_id: atA.id, survey_answers: { x: 1 } }))).statusCode, 201)
  const wide = await createSurvey(app, acct, { name: 'Everywhere', questions: [{ id: 'ok', text: 'OK?', type: 'yes_no', accept: [true] }] })
  const atB = await call(app, acct.key, clock({ worker_id: await w(), action: 'in', location_id: b.id, survey_id: atA.id, survey_answers: { a_ok: true } }))
  t.equal(atB.statusCode, 400, 'at B the account-wide survey applies')
  t.match(atB.json().message, new RegExp(`answer survey ${wide.id as number}`))
  t.equal((await call(app, acct.key, clock({ worker_id: await w(), action: 'in', location_id: b.id, survey_id: wide.id, survey_answers: { ok: true } }))).statusCode, 201)
  t.equal((await call(app, acct.key, clock({ worker_id: await w(), action: 'in', location_id: a.id, survey_id: atA.id, survey_answers: { a_ok: true } }))).statusCode, 201, 'at A its own survey')
  const noLocation = await call(app, acct.key, clock({ worker_id: await w(), action: 'in', location_id: null }))
  t.equal(noLocation.statusCode, 403, 'a clock-in without a location answers the account-wide survey')
  t.match((await events(app.db, acct.id, 'clock.blocked_by_survey'))[0]!.data, { location_id: null, survey_id: wide.id })

  await call(app, acct.key, { method: 'PUT', url: `/api/v1/surveys.php?id=${atA.id as number}`, payload: { active: false } })
  await call(app, acct.key, { method: 'PUT', url: `/api/v1/surveys.php?id=${wide.id as number}`, payload: { active: false } })
  t.equal((await call(app, acct.key, clock({ worker_id: await w(), action: 'in', location_id: a.id }))).statusCode, 201, 'an inactive survey applies nowhere')
})

t.test('Idempotency-Key replays a blocked clock-in without writing it again', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  const site = await createLocation(app, acct.id, { name: 'Site' })
  const survey = await createSurvey(app, acct, { location_ids: [site.id] })
  const worker = await insertWorker(app.db, acct.id, { location_id: site.id })
  const body = { worker_id: worker, action: 'in', survey_id: survey.id, survey_answers: { fit_for_work: false, ppe: 'none' } }
  const first = await call(app, acct.key, clock(body, { 'idempotency-key': 'kiosk-1' }))
  t.equal(first.statusCode, 403)
  const again = await call(app, acct.key, clock(body, { 'idempotency-key': 'kiosk-1' }))
  t.equal(again.statusCode, 403)
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.same(again.json(), first.json())
  t.equal((await events(app.db, acct.id, 'clock.blocked_by_survey')).length, 1, 'one event')
  t.equal((await app.db.selectFrom('survey_responses').select('id').execute()).length, 1, 'one response')
})

t.test('scopes: surveys:read reads both; writes need full access', async (t) => {
  const app = await buildTestApp(t)
  const acct = await createTestAccount(app)
  await createSurvey(app, acct, {})
  const reader = await createTestKey(app, acct.id, { scopes: ['surveys:read'] })
  const other = await createTestKey(app, acct.id, { scopes: ['timesheets:read'] })
  t.equal((await call(app, reader.key, { method: 'GET', url: '/api/v1/surveys.php' })).statusCode, 200)
  t.equal((await call(app, reader.key, { method: 'GET', url: '/api/v1/survey-responses.php' })).statusCode, 200)
  const denied = await call(app, other.key, { method: 'GET', url: '/api/v1/survey-responses.php' })
  t.equal(denied.statusCode, 403)
  t.match(denied.json(), { code: 'insufficient_scope', message: /surveys:read/ })
  t.equal((await call(app, reader.key, post('/api/v1/surveys.php', { name: 'X', questions: QUESTIONS }))).statusCode, 403)
})

t.test('tenant isolation of location_ids: another account\'s location is 404 and nothing is written', async (t) => {
  const app = await buildTestApp(t)
  const mine = await createTestAccount(app)
  const theirs = await createTestAccount(app, { name: 'Other' })
  const own = await createLocation(app, mine.id, { name: 'Mine' })
  const foreign = await createLocation(app, theirs.id, { name: 'Theirs' })
  const created = await call(app, mine.key, post('/api/v1/surveys.php', { name: 'S', location_ids: [own.id, foreign.id], questions: QUESTIONS }))
  t.equal(created.statusCode, 404)
  t.equal(created.json().message, `Location ${foreign.id} not found`)
  const survey = await createSurvey(app, mine, { location_ids: [own.id] })
  const moved = await call(app, mine.key, { method: 'PUT', url: `/api/v1/surveys.php?id=${survey.id as number}`, payload: { location_ids: [foreign.id] } })
  t.equal(moved.statusCode, 404)
  t.same((await call(app, mine.key, { method: 'GET', url: `/api/v1/surveys.php?id=${survey.id as number}` })).json().data, survey)
  t.equal((await app.db.selectFrom('surveys').select('id').execute()).length, 1)
})
