import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { EVENT_TYPES } from '../domain/events.js'
import { buildTestApp, call, createTestAccount, createTestKey } from './helper.js'

const URL_OK = 'https://hooks.example.com/tempclock'

async function counts (app: FastifyInstance): Promise<{ subscriptions: number, events: number, deliveries: number }> {
  const one = async (table: 'webhook_subscriptions' | 'events' | 'webhook_deliveries') =>
    Number((await app.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n)
  return { subscriptions: await one('webhook_subscriptions'), events: await one('events'), deliveries: await one('webhook_deliveries') }
}

t.test('create shows the secret once; reads never show it', async (t) => {
  const app = await buildTestApp(t)
  const account = await createTestAccount(app)
  // subscribing to an event takes the scope that reads its data ('*': all of them)
  const { key } = await createTestKey(app, account.id, { scopes: ['webhooks:write', 'timesheets:read', 'workers:read', 'shifts:read', 'documents:read'] })

  const created = await call(app, key, {
    method: 'POST', url: '/api/v1/webhooks.php',
    payload: { url: URL_OK, events: ['clock_in', 'clock_out'], description: 'Payroll' }
  })
  t.equal(created.statusCode, 201)
  const data = created.json().data
  t.match(data, { id: Number, url: URL_OK, events: ['clock_in', 'clock_out'], active: true, description: 'Payroll', created_at: /Z$/, updated_at: /Z$/ })
  t.match(data.secret, /^whsec_[0-9a-f]{64}$/)
  t.same(Object.keys(data).sort(), ['active', 'created_at', 'description', 'events', 'id', 'secret', 'updated_at', 'url'])
  const stored = await app.db.selectFrom('webhook_subscriptions').select(['secret', 'account_id']).where('id', '=', data.id).executeTakeFirstOrThrow()
  t.equal(stored.secret, data.secret, 'stored usable for signing')
  t.equal(stored.account_id, account.id)

  const other = await call(app, key, { method: 'POST', url: '/api/v1/webhooks.php', payload: { url: URL_OK, events: ['*'] } })
  t.not(other.json().data.secret, data.secret, 'each subscription has its own secret')

  const one = await call(app, key, { method: 'GET', url: `/api/v1/webhooks.php?id=${data.id}` })
  t.equal(one.statusCode, 200)
  t.same(one.json().data.deliveries, [])
  t.equal(one.json().data.url, URL_OK)
  const list = await call(app, key, { method: 'GET', url: '/api/v1/webhooks.php' })
  t.equal(list.statusCode, 200)
  t.equal(list.json().data.length, 2)
  t.same(list.json().pagination, { total: 2, limit: 50, offset: 0, has_more: false })
  const put = await call(app, key, { method: 'PUT', url: `/api/v1/webhooks.php?id=${data.id}`, payload: { description: 'x' } })
  const del = await call(app, key, { method: 'DELETE', url: `/api/v1/webhooks.php?id=${data.id}` })
  for (const res of [one, list, put, del]) {
    t.notOk(res.body.includes(data.secret), 'the secret never appears again')
    t.notOk(res.body.includes('whsec_'), 'no secret at all')
    t.notOk(res.body.includes('account_id'))
  }
})

t.test('validation: events, urls, bodies — 400 and nothing written', async (t) => {
  const app = await buildTestApp(t)
  const account = await createTestAccount(app)
  const before = await counts(app)
  const bad: Array<[unknown, RegExp]> = [
    [{ url: URL_OK, events: ['clock_in', 'clock_inn'] }, /events\.1: must be one of \*, clock_in/],
    [{ url: URL_OK, events: [] }, /at least 1/],
    [{ url: URL_OK, events: ['clock_in', 'clock_in'] }, /duplicates/],
    [{ url: URL_OK, events: 'clock_in' }, /events: must be array/],
    [{ url: URL_OK }, /Missing required field: events/],
    [{ events: ['*'] }, /Missing required field: url/],
    [{ url: URL_OK, events: ['*'], secret: 'mine' }, /Unknown field: secret/],
    [{ url: URL_OK, events: ['*'], active: 'yes' }, /active: must be boolean/],
    [{ url: 'http://hooks.example.com/', events: ['*'] }, /must use https/],
    [{ url: 'http://127.0.0.1:9/', events: ['*'] }, /must use https/],
    [{ url: 'https://10.0.0.1/', events: ['*'] }, /private/],
    [{ url: 'https://192.168.1.20/hook', events: ['*'] }, /private/],
    [{ url: 'https://169.254.169.254/', events: ['*'] }, /metadata/],
    [{ url: 'https://[fe80::1]/', events: ['*'] }, /link-local/],
    [{ url: 'https://2130706433/', events: ['*'] }, /loopback/],
    [{ url: 'https://localhost/', events: ['*'] }, /loopback/],
    [{ url: 'hooks.example.com', events: ['*'] }, /absolute https/],
    [{ url: 'https://' + 'a'.repeat(2040) + '.com/', events: ['*'] }, /at most 2048/]
  ]
  for (const [payload, message] of bad) {
    const res = await call(app, account.key, { method: 'POST', url: '/api/v1/webhooks.php', payload: payload as object })
    t.equal(res.statusCode, 400, JSON.stringify(payload).slice(0, 80))
    t.match(res.json(), { error: true, status: 400, code: 'validation_error', message })
  }
  const empty = await call(app, account.key, { method: 'POST', url: '/api/v1/webhooks.php' })
  t.equal(empty.statusCode, 400)
  t.match(empty.json().message, /body must be object/)
  const withId = await call(app, account.key, { method: 'POST', url: '/api/v1/webhooks.php?id=1', payload: { url: URL_OK, events: ['*'] } })
  t.equal(withId.statusCode, 400)
  t.match(withId.json().message, /use PUT/)
  const badAction = await call(app, account.key, { method: 'POST', url: '/api/v1/webhooks.php?id=1&action=pong' })
  t.equal(badAction.statusCode, 400)
  t.same(await counts(app), before, 'database unchanged')

  // `*` absorbs the rest; every v1 event is accepted
  const all = await call(app, account.key, { method: 'POST', url: '/api/v1/webhooks.php', payload: { url: URL_OK, events: ['clock_in', '*'] } })
  t.same(all.json().data.events, ['*'])
  const every = await call(app, account.key, { method: 'POST', url: '/api/v1/webhooks.php', payload: { url: URL_OK, events: [...EVENT_TYPES] } })
  t.equal(every.statusCode, 201)
  t.same(every.json().data.events, [...EVENT_TYPES])
  const off = await call(app, account.key, { method: 'POST', url: '/api/v1/webhooks.php', payload: { url: URL_OK, events: ['ping'], active: false, description: null } })
  t.match(off.json().data, { active: false, description: null })
})

t.test('http to loopback only with TEMPCLOCK_WEBHOOKS_ALLOW_LOOPBACK', async (t) => {
  const app = await buildTestApp(t, { webhooksAllowLoopback: true })
  const account = await createTestAccount(app)
  for (const url of ['http://127.0.0.1:8080/hook', 'http://localhost:8080/hook', 'http://[::1]:8080/hook']) {
    const res = await call(app, account.key, { method: 'POST', url: '/api/v1/webhooks.php', payload: { url, events: ['*'] } })
    t.equal(res.statusCode, 201, url)
    t.equal(res.json().data.url, url)
  }
  for (const url of ['http://example.com/', 'http://10.0.0.1/', 'https://172.20.0.1/']) {
    const res = await call(app, account.key, { method: 'POST', url: '/api/v1/webhooks.php', payload: { url, events: ['*'] } })
    t.equal(res.statusCode, 400, url)
  }
})

t.test('PUT is partial and re-validates; DELETE answers the deleted subscription', async (t) => {
  const app = await buildTestApp(t)
  const account = await createTestAccount(app)
  const { id, secret } = (await call(app, account.key, {
    method: 'POST', url: '/api/v1/webhooks.php', payload: { url: URL_OK, events: ['clock_in'], description: 'd' }
  })).json().data

  const put = await call(app, account.key, { method: 'PUT', url: `/api/v1/webhooks.php?id=${id}`, payload: { events: ['clock_out', 'worker_created'] } })
  t.equal(put.statusCode, 200)
  t.match(put.json().data, { id, url: URL_OK, events: ['clock_out', 'worker_created'], active: true, description: 'd' })
  const put2 = await call(app, account.key, { method: 'PUT', url: `/api/v1/webhooks.php?id=${id}`, payload: { url: 'https://other.example.com/x', active: false, description: null } })
  t.match(put2.json().data, { url: 'https://other.example.com/x', events: ['clock_out', 'worker_created'], active: false, description: null })

  for (const [payload, status, message] of [
    [{ url: 'https://10.1.1.1/' }, 400, /private/],
    [{ events: ['nope'] }, 400, /must be one of/],
    [{}, 400, /at least one field/],
    [{ secret: 'x' }, 400, /Unknown field: secret/]
  ] as Array<[object, number, RegExp]>) {
    const res = await call(app, account.key, { method: 'PUT', url: `/api/v1/webhooks.php?id=${id}`, payload })
    t.equal(res.statusCode, status)
    t.match(res.json().message, message)
  }
  const still = (await call(app, account.key, { method: 'GET', url: `/api/v1/webhooks.php?id=${id}` })).json().data
  t.equal(still.url, 'https://other.example.com/x', 'a rejected PUT changed nothing')
  const row = await app.db.selectFrom('webhook_subscriptions').select('secret').where('id', '=', id).executeTakeFirstOrThrow()
  t.equal(row.secret, secret, 'updates keep the secret')

  const del = await call(app, account.key, { method: 'DELETE', url: `/api/v1/webhooks.php?id=${id}` })
  t.equal(del.statusCode, 200)
  t.match(del.json().data, { id, url: 'https://other.example.com/x', active: false })
  t.equal((await call(app, account.key, { method: 'GET', url: `/api/v1/webhooks.php?id=${id}` })).statusCode, 404)
  t.equal((await call(app, account.key, { method: 'DELETE', url: `/api/v1/webhooks.php?id=${id}` })).statusCode, 404)
  t.equal((await call(app, account.key, { method: 'PUT', url: `/api/v1/webhooks.php?id=${id}`, payload: { active: true } })).statusCode, 404)
  t.same((await call(app, account.key, { method: 'GET', url: '/api/v1/webhooks.php' })).json().data, [])
})

t.test('list filters and paging', async (t) => {
  const app = await buildTestApp(t)
  const account = await createTestAccount(app)
  for (let i = 0; i < 5; i++) {
    await call(app, account.key, { method: 'POST', url: '/api/v1/webhooks.php', payload: { url: `${URL_OK}/${i}`, events: ['*'], active: i % 2 === 0 } })
  }
  const active = await call(app, account.key, { method: 'GET', url: '/api/v1/webhooks.php?active=1' })
  t.same(active.json().data.map((w: { url: string }) => w.url), [`${URL_OK}/0`, `${URL_OK}/2`, `${URL_OK}/4`])
  const page = await call(app, account.key, { method: 'GET', url: '/api/v1/webhooks.php?limit=2&offset=1' })
  t.equal(page.json().data.length, 2)
  t.same(page.json().pagination, { total: 5, limit: 2, offset: 1, has_more: true })
  const after = await call(app, account.key, { method: 'GET', url: `/api/v1/webhooks.php?after_id=${active.json().data[1].id as number}` })
  t.equal(after.json().data.length, 2)
})

t.test('another account\'s subscription answers exactly like a missing one', async (t) => {
  const app = await buildTestApp(t)
  const mine = await createTestAccount(app, { name: 'Mine' })
  const theirs = await createTestAccount(app, { name: 'Theirs' })
  const { id } = (await call(app, theirs.key, { method: 'POST', url: '/api/v1/webhooks.php', payload: { url: URL_OK, events: ['*'] } })).json().data
  const missing = 999_999
  for (const [method, url, payload] of [
    ['GET', `/api/v1/webhooks.php?id=${id}`, undefined],
    ['PUT', `/api/v1/webhooks.php?id=${id}`, { active: false }],
    ['DELETE', `/api/v1/webhooks.php?id=${id}`, undefined],
    ['POST', `/api/v1/webhooks.php?id=${id}&action=ping`, undefined]
  ] as Array<['GET' | 'PUT' | 'DELETE' | 'POST', string, object | undefined]>) {
    const res = await call(app, mine.key, { method, url, payload })
    const ref = await call(app, mine.key, { method, url: url.replace(`id=${id as number}`, `id=${missing}`), payload })
    t.equal(res.statusCode, 404, `${method} other account's`)
    t.equal(ref.statusCode, 404)
    t.equal(res.json().message.replace(String(id), 'N'), ref.json().message.replace(String(missing), 'N'), 'same message')
    t.equal(res.json().message, `Webhook ${id as number} not found`)
    t.equal(res.json().code, 'not_found')
  }
  t.same((await call(app, mine.key, { method: 'GET', url: '/api/v1/webhooks.php' })).json().data, [])
  const theirsNow = (await call(app, theirs.key, { method: 'GET', url: `/api/v1/webhooks.php?id=${id}` })).json().data
  t.equal(theirsNow.active, true, 'untouched')
  t.equal((await counts(app)).events, 0, 'no ping recorded')
})

t.test('ping records a ping event for that subscription', async (t) => {
  const app = await buildTestApp(t)
  const account = await createTestAccount(app)
  const { id } = (await call(app, account.key, { method: 'POST', url: '/api/v1/webhooks.php', payload: { url: URL_OK, events: ['clock_in'] } })).json().data
  const res = await call(app, account.key, { method: 'POST', url: `/api/v1/webhooks.php?id=${id}&action=ping` })
  t.equal(res.statusCode, 202)
  t.match(res.json().data, { event_id: Number, subscription_id: id, event: 'ping' })
  const event = await app.db.selectFrom('events').selectAll().where('id', '=', res.json().data.event_id).executeTakeFirstOrThrow()
  t.match(event, { account_id: account.id, type: 'ping', dispatched_at: null })
  t.same(JSON.parse(event.payload), { subscription_id: id, message: 'Ping from TempClock' })

  const noId = await call(app, account.key, { method: 'POST', url: '/api/v1/webhooks.php?action=ping' })
  t.equal(noId.statusCode, 400)
  t.match(noId.json().message, /id/)
  const withBody = await call(app, account.key, { method: 'POST', url: `/api/v1/webhooks.php?id=${id}&action=ping`, payload: { url: URL_OK, events: ['*'] } })
  t.equal(withBody.statusCode, 400)
  await call(app, account.key, { method: 'PUT', url: `/api/v1/webhooks.php?id=${id}`, payload: { active: false } })
  const inactive = await call(app, account.key, { method: 'POST', url: `/api/v1/webhooks.php?id=${id}&action=ping` })
  t.equal(inactive.statusCode, 409)
  t.equal(inactive.json().code, 'webhook_inactive')
  t.equal((await counts(app)).events, 1, 'only the first ping was recorded')
})

t.test('an account has at most 20 subscriptions: the 21st is 409 subscription_limit_reached', async (t) => {
  const app = await buildTestApp(t)
  const account = await createTestAccount(app)
  const other = await createTestAccount(app, { name: 'Other' })
  const create = async (key: string) => await call(app, key, { method: 'POST', url: '/api/v1/webhooks.php', payload: { url: URL_OK, events: ['*'] } })
  const ids: number[] = []
  for (let i = 0; i < 20; i++) {
    const res = await create(account.key)
    t.equal(res.statusCode, 201)
    ids.push(res.json().data.id)
  }
  const before = await counts(app)
  const refused = await create(account.key)
  t.equal(refused.statusCode, 409)
  t.match(refused.json(), { status: 409, code: 'subscription_limit_reached', message: /at most 20 webhook subscriptions/ })
  t.same(await counts(app), before, 'nothing written')
  const list = await call(app, account.key, { method: 'GET', url: '/api/v1/webhooks.php?limit=100' })
  t.equal(list.json().data.length, 20)

  t.equal((await create(other.key)).statusCode, 201, 'another account is not affected')
  t.equal((await call(app, account.key, { method: 'DELETE', url: `/api/v1/webhooks.php?id=${ids[0]!}` })).statusCode, 200)
  t.equal((await create(account.key)).statusCode, 201, 'a deleted subscription frees its place')
})

t.test('scope: webhooks:write only', async (t) => {
  const app = await buildTestApp(t)
  const account = await createTestAccount(app)
  const { key } = await createTestKey(app, account.id, { scopes: ['workers:read', 'clock:write'] })
  const res = await call(app, key, { method: 'GET', url: '/api/v1/webhooks.php' })
  t.equal(res.statusCode, 403)
  t.equal(res.json().code, 'insufficient_scope')
  t.match(res.json().message, 'webhooks:write')
})

t.test('a key may subscribe only to events whose data it could read', async (t) => {
  const app = await buildTestApp(t)
  const account = await createTestAccount(app)
  const writeOnly = (await createTestKey(app, account.id, { scopes: ['webhooks:write'] })).key
  const workers = (await createTestKey(app, account.id, { scopes: ['webhooks:write', 'workers:read'] })).key
  const reader = (await createTestKey(app, account.id, { scopes: ['webhooks:write', 'workers:read', 'timesheets:read', 'shifts:read', 'documents:read'] })).key
  const subscribe = async (key: string, events: string[]) =>
    await call(app, key, { method: 'POST', url: '/api/v1/webhooks.php', payload: { url: URL_OK, events } })

  const refused: Array<[string, string[], string]> = [
    [writeOnly, ['*'], 'timesheets:read'],
    [writeOnly, ['clock_in'], 'timesheets:read'],
    [writeOnly, ['clock_out'], 'timesheets:read'],
    [writeOnly, ['clock.geofence_breach'], 'timesheets:read'],
    [writeOnly, ['clock.blocked_by_survey'], 'timesheets:read'],
    [writeOnly, ['worker_created'], 'workers:read'],
    [writeOnly, ['shift_created'], 'shifts:read'],
    [workers, ['worker_created', 'clock_out'], 'timesheets:read'],
    [workers, ['*'], 'timesheets:read'],
    [workers, ['worker_updated', 'shift_created'], 'shifts:read']
  ]
  for (const [key, events, scope] of refused) {
    const res = await subscribe(key, events)
    t.equal(res.statusCode, 403, `${events.join()}: refused`)
    t.match(res.json(), { code: 'insufficient_scope', message: new RegExp(`requires the ${scope} scope`) }, `${events.join()}: names ${scope}`)
    t.equal(res.headers['www-authenticate'], `Bearer error="insufficient_scope", scope="${scope}"`)
  }
  const listAll = async () => (await call(app, account.key, { method: 'GET', url: '/api/v1/webhooks.php' })).json().data as Array<{ events: string[] }>
  t.same(await listAll(), [], 'nothing refused was stored')

  t.equal((await subscribe(writeOnly, ['ping'])).statusCode, 201, 'ping carries no data')
  const mine = await subscribe(workers, ['worker_created', 'worker_updated'])
  t.equal(mine.statusCode, 201)
  t.equal((await subscribe(reader, ['*'])).statusCode, 201, 'a key that reads everything may take *')
  t.equal((await subscribe(account.key, ['*'])).statusCode, 201, 'so may a full-access key')

  const id = mine.json().data.id as number
  const widen = await call(app, workers, { method: 'PUT', url: `/api/v1/webhooks.php?id=${id}`, payload: { events: ['*'] } })
  t.equal(widen.statusCode, 403, 'PUT cannot widen a subscription past the key')
  t.match(widen.json(), { code: 'insufficient_scope', message: /timesheets:read/ })
  const rename = await call(app, workers, { method: 'PUT', url: `/api/v1/webhooks.php?id=${id}`, payload: { description: 'CRM', events: ['worker_updated'] } })
  t.equal(rename.statusCode, 200)
  t.same((await listAll()).map((w) => w.events), [['ping'], ['worker_updated'], ['*'], ['*']])
})

t.test('every event a subscription can name has its read scope', async (t) => {
  const { EVENT_READ_SCOPES } = await import('../domain/event-scopes.js')
  for (const event of EVENT_TYPES) t.ok(Object.hasOwn(EVENT_READ_SCOPES, event), event)
})

t.test('webhook settings: on in the server, off in tests unless asked, bad values refused', async (t) => {
  const { loadConfig, testConfig, ConfigError } = await import('../plugins/config.js')
  t.match(loadConfig({}), {
    webhooksEnabled: true, webhooksAllowLoopback: false, webhooksPollMs: 1000, webhooksRetryBaseMs: 30_000,
    webhooksRetryMaxMs: 3_600_000, webhooksRetryWindowMs: 86_400_000, webhooksTimeoutMs: 10_000, webhooksConcurrency: 16
  })
  t.equal(testConfig().webhooksEnabled, false)
  t.match(loadConfig({ TEMPCLOCK_WEBHOOKS_ENABLED: '0', TEMPCLOCK_WEBHOOKS_POLL_MS: '50', TEMPCLOCK_WEBHOOKS_CONCURRENCY: '2' }),
    { webhooksEnabled: false, webhooksPollMs: 50, webhooksConcurrency: 2 })
  for (const [env, message] of [
    [{ TEMPCLOCK_WEBHOOKS_POLL_MS: 'soon' }, /TEMPCLOCK_WEBHOOKS_POLL_MS must be a whole number/],
    [{ TEMPCLOCK_WEBHOOKS_CONCURRENCY: '0' }, /TEMPCLOCK_WEBHOOKS_CONCURRENCY must be a whole number from 1/],
    [{ TEMPCLOCK_WEBHOOKS_ENABLED: 'maybe' }, /TEMPCLOCK_WEBHOOKS_ENABLED must be 1 or 0/]
  ] as const) {
    let thrown: unknown
    try { loadConfig(env) } catch (err) { thrown = err }
    t.ok(thrown instanceof ConfigError, 'a ConfigError')
    t.match((thrown as Error).message, message)
  }
})
