import t from 'tap'
import { buildTestApp, call, createTestAccount, routeTable, writeMark } from './helper.js'

type Body = Record<string, unknown>

t.test('an unknown query parameter is 400 validation_error on every method of every route, and writes nothing', async (t) => {
  const app = await buildTestApp(t)
  const account = await createTestAccount(app)
  const post = async (url: string, payload: Body): Promise<number> => {
    const res = await call(app, account.key, { method: 'POST', url, payload })
    if (res.statusCode >= 300) throw new Error(`setup ${url}: ${res.body}`)
    return res.json().data.id as number
  }
  const location = await post('/api/v1/locations.php', { name: 'Depot' })
  const department = await post('/api/v1/departments.php', { name: 'Night', location_id: location })
  const costCode = await post('/api/v1/cost-codes.php', { code: 'CC1', name: 'Picking' })
  const worker = await post('/api/v1/workers.php', { first_name: 'Ada', last_name: 'Lovelace', location_id: location })
  const shift = await post('/api/v1/shifts.php', { location_id: location, start_time: '2030-01-01T08:00:00Z', end_time: '2030-01-01T16:00:00Z' })
  const webhook = await post('/api/v1/webhooks.php', { url: 'https://hooks.example.com/a', events: ['ping'] })
  const survey = await post('/api/v1/surveys.php', { name: 'Fit', active: false, questions: [{ id: 'fit', text: 'Fit?', type: 'yes_no', accept: [true] }] })
  const document = await post('/api/v1/documents.php', { worker_id: worker, type: 'Forklift licence' })

  // a request each route would carry out without the unknown parameter (checked below), so the
  // 400 is the parameter's doing; routes missing here are still checked, with no body
  const valid: Record<string, { query?: string, body?: Body }> = {
    'POST /api/v1/workers.php': { body: { first_name: 'New', last_name: 'Worker' } },
    'PUT /api/v1/workers.php': { query: `id=${worker}`, body: { first_name: 'Changed' } },
    'POST /api/v1/locations.php': { body: { name: 'New site' } },
    'PUT /api/v1/locations.php': { query: `id=${location}`, body: { name: 'Changed' } },
    'POST /api/v1/departments.php': { body: { name: 'Day' } },
    'PUT /api/v1/departments.php': { query: `id=${department}`, body: { name: 'Changed' } },
    'POST /api/v1/cost-codes.php': { body: { code: 'CC2', name: 'Packing' } },
    'PUT /api/v1/cost-codes.php': { query: `id=${costCode}`, body: { name: 'Changed' } },
    'POST /api/v1/shifts.php': { body: { location_id: location, start_time: '2030-01-02T08:00:00Z', end_time: '2030-01-02T16:00:00Z' } },
    'PUT /api/v1/shifts.php': { query: `id=${shift}`, body: { notes: 'Changed' } },
    'DELETE /api/v1/shifts.php': { query: `id=${shift}` },
    'POST /api/v1/clock.php': { body: { worker_id: worker, action: 'in', location_id: location } },
    'POST /api/v1/webhooks.php': { body: { url: 'https://hooks.example.com/b', events: ['ping'] } },
    'PUT /api/v1/webhooks.php': { query: `id=${webhook}`, body: { description: 'Changed' } },
    'DELETE /api/v1/webhooks.php': { query: `id=${webhook}` },
    'POST /api/v1/surveys.php': { body: { name: 'Other', active: false, questions: [{ id: 'ok', text: 'OK?', type: 'yes_no' }] } },
    'PUT /api/v1/surveys.php': { query: `id=${survey}`, body: { name: 'Changed' } },
    'POST /api/v1/documents.php': { body: { worker_id: worker, type: 'Right to work' } },
    'PUT /api/v1/documents.php': { query: `id=${document}`, body: { notes: 'Changed' } },
    'DELETE /api/v1/documents.php': { query: `id=${document}` },
    'GET /api/v1/workers.php': { query: `id=${worker}` }
  }

  const routes = routeTable(app).filter((r) => r.url.startsWith('/api/') && r.method !== 'OPTIONS')
  t.ok(routes.filter((r) => r.method === 'POST').length >= 7, 'the route table has the writes')
  for (const { method, url } of routes) {
    const { query, body } = valid[`${method} ${url}`] ?? {}
    const send = async (extra: string) => await call(app, account.key, {
      method: method as 'GET',
      url: `${url}?${[query, extra].filter((p) => p !== undefined && p !== '').join('&')}`,
      ...(body === undefined ? {} : { payload: body })
    })
    const before = await writeMark(app)
    const refused = await send('bogus=1')
    t.equal(refused.statusCode, 400, `${method} ${url}?bogus=1: 400`)
    if (method !== 'HEAD') {
      t.match(refused.json(), { code: 'validation_error', message: 'Unknown query parameter: bogus' }, `${method} ${url}: names it`)
    }
    t.equal(await writeMark(app), before, `${method} ${url}: nothing written`)
    if (valid[`${method} ${url}`] !== undefined) {
      const accepted = await send('')
      t.ok(accepted.statusCode < 300, `${method} ${url}: the same request without it is carried out (${accepted.statusCode})`)
    }
  }

  const issue = await call(app, account.key, { method: 'POST', url: '/api/v1/workers.php?bogus=1&id=5', payload: { first_name: 'Not', last_name: 'Created' } })
  t.equal(issue.statusCode, 400)
  const named = await call(app, account.key, { method: 'GET', url: '/api/v1/workers.php?last_name=Created' })
  t.equal(named.statusCode, 400, 'a filter the list does not have is unknown too')
  const listed = await call(app, account.key, { method: 'GET', url: '/api/v1/workers.php' })
  t.notOk(listed.body.includes('"Not"'), 'no worker was created')
})
